/* The seeded xorshift generator the int8 tests share. Define QRAND_SEED
 * before including (each test keeps its own sequence). */
#ifndef TQ_TESTS_INT8_QRAND_H
#define TQ_TESTS_INT8_QRAND_H

#include <stdint.h>

#ifndef QRAND_SEED
#error "define QRAND_SEED before including qrand.h"
#endif

static uint64_t rng_state = QRAND_SEED;

static inline uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static inline int rnd_in(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

#endif
