/* PCG64 + SeedSequence, following numpy's bit_generator.pyx and pcg64.h
 * (numpy/random/src/pcg64) so that streams match numpy exactly. */
#include "util/pcg64.h"

#ifndef __SIZEOF_INT128__
#error "pcg64.c needs a compiler with unsigned __int128 (gcc, clang)"
#endif
__extension__ typedef unsigned __int128 u128;

/* SeedSequence's hash constants (Melissa O'Neill's seed_seq_fe design). */
#define SS_INIT_A 0x43b0d7e5u
#define SS_MULT_A 0x931e8875u
#define SS_INIT_B 0x8b51f9ddu
#define SS_MULT_B 0x58f38dedu
#define SS_MIX_MULT_L 0xca01f9ddu
#define SS_MIX_MULT_R 0x4973f715u
#define SS_XSHIFT 16
#define SS_POOL_SIZE 4

static uint32_t hashmix(uint32_t value, uint32_t *hash_const)
{
    value ^= *hash_const;
    *hash_const *= SS_MULT_A;
    value *= *hash_const;
    value ^= value >> SS_XSHIFT;
    return value;
}

static uint32_t mix(uint32_t x, uint32_t y)
{
    uint32_t result = SS_MIX_MULT_L * x - SS_MIX_MULT_R * y;
    result ^= result >> SS_XSHIFT;
    return result;
}

void tq_seed_sequence_generate(const uint32_t *entropy, int n_entropy, uint32_t *out,
                               int n_words)
{
    uint32_t pool[SS_POOL_SIZE];
    uint32_t hash_const = SS_INIT_A;
    for (int i = 0; i < SS_POOL_SIZE; i++)
        pool[i] = hashmix(i < n_entropy ? entropy[i] : 0, &hash_const);
    /* Mix every word into every other so late bits affect early ones. */
    for (int src = 0; src < SS_POOL_SIZE; src++)
        for (int dst = 0; dst < SS_POOL_SIZE; dst++)
            if (src != dst)
                pool[dst] = mix(pool[dst], hashmix(pool[src], &hash_const));
    for (int src = SS_POOL_SIZE; src < n_entropy; src++)
        for (int dst = 0; dst < SS_POOL_SIZE; dst++)
            pool[dst] = mix(pool[dst], hashmix(entropy[src], &hash_const));

    uint32_t gen_const = SS_INIT_B;
    for (int i = 0; i < n_words; i++) {
        uint32_t v = pool[i % SS_POOL_SIZE];
        v ^= gen_const;
        gen_const *= SS_MULT_B;
        v *= gen_const;
        v ^= v >> SS_XSHIFT;
        out[i] = v;
    }
}

static const u128 PCG_MULT =
    ((u128)0x2360ed051fc65da4ULL << 64) | (u128)0x4385df649fccf645ULL;

static u128 get_state(const tq_pcg64 *r) { return ((u128)r->state_hi << 64) | r->state_lo; }
static u128 get_inc(const tq_pcg64 *r) { return ((u128)r->inc_hi << 64) | r->inc_lo; }
static void put_state(tq_pcg64 *r, u128 s)
{
    r->state_hi = (uint64_t)(s >> 64);
    r->state_lo = (uint64_t)s;
}

static void pcg_step(tq_pcg64 *r)
{
    put_state(r, get_state(r) * PCG_MULT + get_inc(r));
}

void tq_pcg64_seed(tq_pcg64 *rng, uint64_t seed)
{
    /* numpy turns an int seed into 32-bit words, low first; 0 is one word. */
    uint32_t entropy[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int n_entropy = (seed >> 32) ? 2 : 1;
    /* PCG64 asks for generate_state(4, np.uint64): eight uint32 read as four
     * little-endian uint64; words 0,1 form the state and 2,3 the increment,
     * each with the first uint64 as the high half (pcg64_set_seed). */
    uint32_t w[8];
    tq_seed_sequence_generate(entropy, n_entropy, w, 8);
    uint64_t v[4];
    for (int i = 0; i < 4; i++)
        v[i] = (uint64_t)w[2 * i] | (uint64_t)w[2 * i + 1] << 32;
    u128 initstate = ((u128)v[0] << 64) | v[1];
    u128 initseq = ((u128)v[2] << 64) | v[3];
    /* pcg_setseq_128_srandom_r */
    u128 inc = (initseq << 1) | 1u;
    rng->inc_hi = (uint64_t)(inc >> 64);
    rng->inc_lo = (uint64_t)inc;
    put_state(rng, 0);
    pcg_step(rng);
    put_state(rng, get_state(rng) + initstate);
    pcg_step(rng);
    rng->has_uint32 = 0;
    rng->uinteger = 0;
}

uint64_t tq_pcg64_next64(tq_pcg64 *rng)
{
    pcg_step(rng);
    /* XSL-RR output: xor the halves, rotate by the top 6 bits */
    uint64_t x = rng->state_hi ^ rng->state_lo;
    unsigned rot = (unsigned)(rng->state_hi >> 58);
    return (x >> rot) | (x << ((64 - rot) & 63));
}

uint32_t tq_pcg64_next32(tq_pcg64 *rng)
{
    if (rng->has_uint32) {
        rng->has_uint32 = 0;
        return rng->uinteger;
    }
    uint64_t next = tq_pcg64_next64(rng);
    rng->has_uint32 = 1;
    rng->uinteger = (uint32_t)(next >> 32);
    return (uint32_t)next;
}

float tq_pcg64_random_float(tq_pcg64 *rng)
{
    return (float)(tq_pcg64_next32(rng) >> 8) * (1.0f / 16777216.0f);
}

void tq_pcg64_fill_float(tq_pcg64 *rng, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = tq_pcg64_random_float(rng);
}

double tq_pcg64_random_double(tq_pcg64 *rng)
{
    return (double)(tq_pcg64_next64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Lemire's nearly-divisionless bounded draws on [0, rng] inclusive, exactly as
 * numpy's buffered_bounded_lemire_uint32 / bounded_lemire_uint64. */
static uint32_t bounded_lemire32(tq_pcg64 *r, uint32_t rng)
{
    const uint32_t rng_excl = rng + 1;
    uint64_t m = (uint64_t)tq_pcg64_next32(r) * rng_excl;
    uint32_t leftover = (uint32_t)m;
    if (leftover < rng_excl) {
        const uint32_t threshold = (UINT32_MAX - rng) % rng_excl;
        while (leftover < threshold) {
            m = (uint64_t)tq_pcg64_next32(r) * rng_excl;
            leftover = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static uint64_t bounded_lemire64(tq_pcg64 *r, uint64_t rng)
{
    const uint64_t rng_excl = rng + 1;
    u128 m = (u128)tq_pcg64_next64(r) * rng_excl;
    uint64_t leftover = (uint64_t)m;
    if (leftover < rng_excl) {
        const uint64_t threshold = (0 - rng_excl) % rng_excl;
        while (leftover < threshold) {
            m = (u128)tq_pcg64_next64(r) * rng_excl;
            leftover = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* numpy's random_bounded_uint64 (unmasked): a value in [0, rng]. */
static uint64_t bounded_uint64(tq_pcg64 *r, uint64_t rng)
{
    if (rng == 0)
        return 0;
    if (rng <= UINT32_MAX)
        return rng == UINT32_MAX ? tq_pcg64_next32(r) : bounded_lemire32(r, (uint32_t)rng);
    return rng == UINT64_MAX ? tq_pcg64_next64(r) : bounded_lemire64(r, rng);
}

int64_t tq_pcg64_integers(tq_pcg64 *rng, int64_t low, int64_t high)
{
    if (high <= low)
        return low;
    uint64_t range = (uint64_t)high - (uint64_t)low - 1;
    return (int64_t)((uint64_t)low + bounded_uint64(rng, range));
}

/* numpy's random_interval: masked rejection on [0, max]; Generator.shuffle
 * uses this (not Lemire), so permutations must too. */
static uint64_t random_interval(tq_pcg64 *r, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max;
    for (int s = 1; s < 64; s <<= 1)
        mask |= mask >> s;
    uint64_t value;
    if (max <= UINT32_MAX) {
        while ((value = (tq_pcg64_next32(r) & mask)) > max)
            ;
    } else {
        while ((value = (tq_pcg64_next64(r) & mask)) > max)
            ;
    }
    return value;
}

void tq_pcg64_permutation(tq_pcg64 *rng, int64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (int64_t)i;
    /* Fisher-Yates from the end, as Generator.shuffle does */
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)random_interval(rng, i);
        int64_t tmp = out[i];
        out[i] = out[j];
        out[j] = tmp;
    }
}
