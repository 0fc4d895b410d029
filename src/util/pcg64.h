/* numpy-compatible random numbers: np.random.default_rng(seed) is PCG64
 * (XSL-RR 128/64) seeded through SeedSequence. Every draw here reproduces
 * the numpy Generator call named beside it bit for bit, which is what makes
 * the accuracy gate's synthetic set identical to the Python system's. */
#ifndef TQ_UTIL_PCG64_H
#define TQ_UTIL_PCG64_H

#include <stddef.h>
#include <stdint.h>

typedef struct tq_pcg64 {
    uint64_t state_hi, state_lo;
    uint64_t inc_hi, inc_lo;
    /* numpy hands out 32-bit draws in pairs from one 64-bit output */
    int has_uint32;
    uint32_t uinteger;
} tq_pcg64;

/* SeedSequence(entropy).generate_state(n_words, np.uint32) with an empty
 * spawn key and pool size 4; entropy = the seed's 32-bit words, low first. */
void tq_seed_sequence_generate(const uint32_t *entropy, int n_entropy, uint32_t *out,
                               int n_words);

/* np.random.default_rng(seed) for a non-negative integer seed. */
void tq_pcg64_seed(tq_pcg64 *rng, uint64_t seed);

uint64_t tq_pcg64_next64(tq_pcg64 *rng); /* bit_generator.random_raw() */
uint32_t tq_pcg64_next32(tq_pcg64 *rng);

/* Generator.random(dtype=np.float32): uniform [0, 1), 24 bits. */
float tq_pcg64_random_float(tq_pcg64 *rng);
void tq_pcg64_fill_float(tq_pcg64 *rng, float *out, size_t n);
/* Generator.random() (float64): uniform [0, 1), 53 bits. */
double tq_pcg64_random_double(tq_pcg64 *rng);
/* Generator.integers(low, high) (int64, high exclusive, low < high). */
int64_t tq_pcg64_integers(tq_pcg64 *rng, int64_t low, int64_t high);
/* Generator.permutation(n): out[i] = a shuffled 0..n-1. */
void tq_pcg64_permutation(tq_pcg64 *rng, int64_t *out, size_t n);

#endif
