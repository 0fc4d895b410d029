/* Small helpers shared by the kernel and op tests: a seeded RNG, derived
 * fp32 tolerances and sentinel-filled buffers (after dav1d's checkasm). */
#ifndef TQ_TESTS_CHECKASM_H
#define TQ_TESTS_CHECKASM_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static inline uint32_t rnd_u32(void)
{
    /* xorshift64*: deterministic across runs and platforms */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static inline int rnd_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd_u32() % (uint32_t)(hi - lo + 1));
}

static inline float rnd_float(void) /* [-1, 1) */
{
    return (float)((double)rnd_u32() / 2147483648.0 - 1.0);
}

static inline void rnd_fill(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = rnd_float();
}

/* A value no kernel produces from our inputs, to catch stray and missing writes. */
#define SENTINEL (-12345.678f)

static inline void fill_sentinel(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = SENTINEL;
}

/* Rounding bound of an fp32 sum of `terms` products whose magnitudes sum to
 * `abs_sum` (Higham: gamma_n = n*u/(1-n*u), u = eps/2) relative to the exact
 * value; two fp32 results each within the bound differ by at most twice it. */
static inline double sum_tolerance(int64_t terms, double abs_sum)
{
    double u = FLT_EPSILON / 2;
    double n = (double)terms + 2; /* + epilogue operations */
    return n * u / (1 - n * u) * abs_sum + FLT_MIN;
}

#endif
