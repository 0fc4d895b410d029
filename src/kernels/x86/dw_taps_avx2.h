/* The 3x3 depthwise tap loops shared by the fp32 kernel (dwconv_avx2.c) and
 * the fused dynamic-int8 one (dynq_dw_avx2.c): both first copy each input
 * row into a zero-padded row buffer (for stride 2 split into an even and an
 * odd phase, TQ_DW_PHASE floats apart), then sum nine whole-vector
 * multiply-adds per output vector onto a start value (0, or the static
 * int8 kernel's bias). Taps go in (ky, kx) order from 0. */
#ifndef TQ_KERNELS_X86_DW_TAPS_AVX2_H
#define TQ_KERNELS_X86_DW_TAPS_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define TQ_DW_MAX_OW 1024                /* widest output row the buffers hold */
#define TQ_DW_PHASE (TQ_DW_MAX_OW + 80)  /* floats per phase: ow rounded to 64 + 8, a multiple
                                          * of 16 so every row starts on a cache line */
#define TQ_DW_SLOTS 8                    /* row buffers (a power of 2): 5 live rows + spare */

/* Zero-padded input row buffers (per thread: 70 KB is too big for some
 * thread stacks): slot iy & (SLOTS - 1) holds input row tag[slot], as two
 * phases; zero[] is the row above / below the image. */
typedef struct tq_dw_rows {
    _Alignas(64) float buf[TQ_DW_SLOTS][2][TQ_DW_PHASE]; /* [slot][phase][column] */
    _Alignas(64) float zero[2][TQ_DW_PHASE];
    int64_t tag[TQ_DW_SLOTS]; /* input row held by each slot, -1 none */
    int64_t zero_len; /* the zero rows are zeroed up to here (0 at thread start) */
} tq_dw_rows;

/* Start of a call reading len phase columns: no slot holds a row yet. */
static inline void tq_dw_rows_reset(tq_dw_rows *r, int64_t len)
{
    if (r->zero_len < len) { /* nothing else writes the zero rows */
        memset(r->zero, 0, sizeof r->zero);
        r->zero_len = len;
    }
    for (int i = 0; i < TQ_DW_SLOTS; i++)
        r->tag[i] = -1;
}

/* Input columns [c, c + 8) of one row, 0 outside [0, iw): whole-vector
 * loads inside, masked loads (which never touch disabled lanes) at the
 * edges. */
static inline __attribute__((always_inline)) __m256 tq_dw_load_cols(const float *row, int64_t c,
                                                                     int64_t iw)
{
    if (c >= 0 && c + 8 <= iw)
        return _mm256_loadu_ps(row + c);
    if (c + 8 <= 0 || c >= iw)
        return _mm256_setzero_ps();
    __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)c),
                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)),
                                 _mm256_cmpgt_epi32(_mm256_set1_epi32((int)iw), idx));
    /* the address of lane 0 may lie before the row; only enabled lanes
     * (inside it) are read */
    return _mm256_maskload_ps((const float *)((uintptr_t)row + (uintptr_t)(c * 4)), m);
}

/* nv vectors of one output row from column x: acc = sum_t w[t] * src[t][x..] */
static inline __attribute__((always_inline)) void
tq_dw_row_block(const float *const *src, const __m256 *w, int64_t x, int nv, __m256 init,
                __m256 *acc)
{
    /* fully unrolled so the accumulators live in registers (nv is a
     * constant at every call) */
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
        acc[v] = init;
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
        const float *p = src[t] + x;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[v] = _mm256_fmadd_ps(w[t], _mm256_loadu_ps(p + 8 * v), acc[v]);
    }
}

/* Output rows oy (a0) and oy + 1 (a1), nv vectors from column x: padded
 * input row i of the pair is tap row i of oy and tap row i - s of oy + 1,
 * so each loaded vector feeds both where it can. Each accumulator still
 * takes its taps in (ky, kx) order from 0. */
static inline __attribute__((always_inline)) void
tq_dw_pair_block(const float *const *rp, int s, const __m256 *w, int64_t x, int nv, __m256 init,
                 __m256 *a0, __m256 *a1)
{
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        a0[v] = init;
        a1[v] = init;
    }
#pragma GCC unroll 5
    for (int i = 0; i < 3 + s; i++) {
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; kx++) {
            const float *p = s == 1    ? rp[i] + kx
                             : kx == 1 ? rp[i] + TQ_DW_PHASE
                                       : rp[i] + kx / 2;
            p += x;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                __m256 in = _mm256_loadu_ps(p + 8 * v);
                if (i <= 2)
                    a0[v] = _mm256_fmadd_ps(w[i * 3 + kx], in, a0[v]);
                if (i >= s && i - s <= 2)
                    a1[v] = _mm256_fmadd_ps(w[(i - s) * 3 + kx], in, a1[v]);
            }
        }
    }
}

/* One output channel's row (or row pair, when pair) from the padded rows
 * rp: whole blocks of vectors, then the rest, each handed to the including
 * file's emit_pair(d, a0, a1, orow, v, n) / emit(d, acc, orow, v) (the fp32
 * and int8 kernels differ only there). A macro so every block size stays a
 * compile-time constant and the accumulators stay in registers. */
#define TQ_DW_CHANNEL_ROWS(d, rp, s, pair, wv, init, vecs, orow)                                 \
    do {                                                                                     \
        __m256 a0[4], a1[4];                                                                 \
        int64_t v = 0;                                                                       \
        if ((pair) && (s) == 1) {                                                            \
            for (; v + 3 <= (vecs); v += 3) {                                                \
                tq_dw_pair_block(rp, 1, wv, v * 8, 3, init, a0, a1);                             \
                emit_pair(d, a0, a1, orow, v, 3);                                            \
            }                                                                                \
            if ((vecs) - v == 2) {                                                           \
                tq_dw_pair_block(rp, 1, wv, v * 8, 2, init, a0, a1);                             \
                emit_pair(d, a0, a1, orow, v, 2);                                            \
            } else if ((vecs) - v == 1) {                                                    \
                tq_dw_pair_block(rp, 1, wv, v * 8, 1, init, a0, a1);                             \
                emit_pair(d, a0, a1, orow, v, 1);                                            \
            }                                                                                \
        } else if (pair) {                                                                   \
            for (; v + 3 <= (vecs); v += 3) {                                                \
                tq_dw_pair_block(rp, 2, wv, v * 8, 3, init, a0, a1);                             \
                emit_pair(d, a0, a1, orow, v, 3);                                            \
            }                                                                                \
            if ((vecs) - v == 2) {                                                           \
                tq_dw_pair_block(rp, 2, wv, v * 8, 2, init, a0, a1);                             \
                emit_pair(d, a0, a1, orow, v, 2);                                            \
            } else if ((vecs) - v == 1) {                                                    \
                tq_dw_pair_block(rp, 2, wv, v * 8, 1, init, a0, a1);                             \
                emit_pair(d, a0, a1, orow, v, 1);                                            \
            }                                                                                \
        } else {                                                                             \
            const float *src[9];                                                             \
            for (int ky = 0; ky < 3; ky++) {                                                 \
                src[ky * 3 + 0] = (rp)[ky];                                                  \
                src[ky * 3 + 1] = (s) == 1 ? (rp)[ky] + 1 : (rp)[ky] + TQ_DW_PHASE;          \
                src[ky * 3 + 2] = (s) == 1 ? (rp)[ky] + 2 : (rp)[ky] + 1;                    \
            }                                                                                \
            for (; v + 4 <= (vecs); v += 4) {                                                \
                tq_dw_row_block(src, wv, v * 8, 4, init, a0);                                      \
                for (int k = 0; k < 4; k++)                                                  \
                    emit(d, a0[k], orow, v + k);                                             \
            }                                                                                \
            int nv = (int)((vecs) - v);                                                      \
            switch (nv) {                                                                    \
            case 3: tq_dw_row_block(src, wv, v * 8, 3, init, a0); break;                           \
            case 2: tq_dw_row_block(src, wv, v * 8, 2, init, a0); break;                           \
            case 1: tq_dw_row_block(src, wv, v * 8, 1, init, a0); break;                           \
            default: break;                                                                  \
            }                                                                                \
            for (int k = 0; k < nv; k++)                                                     \
                emit(d, a0[k], orow, v + k);                                                 \
        }                                                                                    \
    } while (0)

#endif
