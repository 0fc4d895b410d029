/* qgemm_c4u (kernels/qgemm.h) on plain AVX2: u8 activations x s8 weights,
 * 4 channels per 32-bit lane, for weights whose vpmaddubsw pairs cannot
 * saturate (tq_qgemm_c4u_fits: 255 * (|w_a| + |w_b|) <= 32767 for both byte
 * pairs of every quad -- always true for reduce-range weights in [-64, 64]).
 *
 * Under that bound vpmaddubsw (u8 x s8, adjacent products summed into a
 * saturating int16) is exact: |a_0 w_0 + a_1 w_1| <= 255 * (|w_0| + |w_1|)
 * <= 32767. vpmaddwd with ones widens the two int16 pair sums of a lane to
 * its int32 quad sum (exact), vpaddd accumulates: the result equals vpdpbusd
 * on the same bytes. 3 instructions per 32 multiply-adds, one fewer than the
 * sign trick (qgemm_sign_avx2.c), and no |a| pass.
 *
 * Blocking: up to 4 output channels x 16 pixels (8 int32 accumulators, two
 * activation vectors, the ones vector, a broadcast weight quad and the
 * products: within the 16 ymm registers); a tail of at most 8 pixels takes
 * 8 channels x 8 pixels instead. */
#include <immintrin.h>
#include <string.h>

#include "kernels/qgemm.h"
#include "kernels/x86/avx2_lanes.h"

#define MRU 4

/* acc += per-lane sum of the 4 products a * w (a u8, w a broadcast s8 quad
 * whose pairs satisfy the bound above): exact. */
static inline __m256i dot4_u8(__m256i acc, __m256i a, __m256i w, __m256i ones)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, w), ones));
}

/* rows [m, m + R) x pixels [n0, n0 + 16) */
#define U8_BLOCK(R)                                                                            \
    do {                                                                                       \
        __m256i acc[R][2];                                                                     \
        for (int r = 0; r < (R); r++) {                                                        \
            __m256i init = _mm256_set1_epi32(row_init ? row_init[m + r] : 0);                  \
            acc[r][0] = init;                                                                  \
            acc[r][1] = init;                                                                  \
        }                                                                                      \
        const int8_t *w0 = w + (size_t)m * 4 * (size_t)KQ;                                     \
        for (int q = 0; q < KQ; q++) {                                                         \
            const uint8_t *bp = brows[q] + 4 * (size_t)n0;                                     \
            __m256i b0 = _mm256_loadu_si256((const __m256i *)bp);                              \
            __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + 32));                       \
            for (int r = 0; r < (R); r++) {                                                    \
                int32_t quad;                                                                  \
                memcpy(&quad, w0 + (size_t)r * 4 * (size_t)KQ + 4 * (size_t)q, 4);            \
                __m256i wv = _mm256_set1_epi32(quad);                                          \
                acc[r][0] = dot4_u8(acc[r][0], b0, wv, ones);                                  \
                acc[r][1] = dot4_u8(acc[r][1], b1, wv, ones);                                  \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (R); r++)                                                          \
            tq_store16_epi32(c + (size_t)(m + r) * ldc + n0, acc[r][0], acc[r][1],           \
                             ncols);                                                         \
    } while (0)

/* rows [m, m + R) x pixels [n0, n0 + 8): narrow tails (a 7-pixel output
 * row of a stride-2 layer would waste 9 of 16 lanes in U8_BLOCK) */
#define U8_BLOCK8(R)                                                                           \
    do {                                                                                       \
        __m256i acc[R];                                                                        \
        for (int r = 0; r < (R); r++)                                                          \
            acc[r] = _mm256_set1_epi32(row_init ? row_init[m + r] : 0);                        \
        const int8_t *w0 = w + (size_t)m * 4 * (size_t)KQ;                                     \
        for (int q = 0; q < KQ; q++) {                                                         \
            __m256i b0 = _mm256_loadu_si256((const __m256i *)(brows[q] + 4 * (size_t)n0));     \
            for (int r = 0; r < (R); r++) {                                                    \
                int32_t quad;                                                                  \
                memcpy(&quad, w0 + (size_t)r * 4 * (size_t)KQ + 4 * (size_t)q, 4);            \
                acc[r] = dot4_u8(acc[r], b0, _mm256_set1_epi32(quad), ones);                   \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (R); r++)                                                          \
            tq_store16_epi32(c + (size_t)(m + r) * ldc + n0, acc[r], acc[r],                 \
                             ncols);                                                         \
    } while (0)

void tq_qgemm_c4u_avx2(int M, int N, int KQ, const int8_t *w, const uint8_t *const *brows,
                       const int32_t *row_init, int32_t *c, size_t ldc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (int n0 = 0; n0 < N; n0 += 16) {
        int ncols = N - n0 < 16 ? N - n0 : 16;
        int m = 0;
        if (ncols <= 8) {
            for (; m + 8 <= M; m += 8)
                U8_BLOCK8(8);
            for (; m + 2 <= M; m += 2)
                U8_BLOCK8(2);
            for (; m < M; m++)
                U8_BLOCK8(1);
            continue;
        }
        for (; m + MRU <= M; m += MRU)
            U8_BLOCK(MRU);
        for (; m + 2 <= M; m += 2)
            U8_BLOCK(2);
        for (; m < M; m++)
            U8_BLOCK(1);
    }
}

/* ---- Paired steps (kernels/qgemm.h tq_c4u_pairs): two quads' vpmaddubsw
 * pair sums added in int16, one vpmaddwd for both. 3 multiplies per two
 * quads instead of 4. Then the single steps, then each row's one-row
 * correction steps (the other halves of rows that were over the bound). */

/* acc += widen(a0 * wa + a1 * wb) (the pair fits int16: tq_c4u_pairs) */
static inline __m256i dot8_u8(__m256i acc, __m256i a0, __m256i wa, __m256i a1, __m256i wb,
                              __m256i ones)
{
    __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(a0, wa), _mm256_maddubs_epi16(a1, wb));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
}

static inline __m256i bcast_quad(const int8_t *p)
{
    int32_t quad;
    memcpy(&quad, p, 4);
    return _mm256_set1_epi32(quad);
}

/* row R's correction steps (tq_c4u_pairs): cq / cw advance past them */
#define CORR_ROW(W, R)                                                                         \
    do {                                                                                       \
        for (int k = 0; k < nc[R]; k++, cq++, cw += 4) {                                       \
            const uint8_t *pa = brows[*cq] + 4 * (size_t)n0;                                   \
            __m256i wa = bcast_quad(cw);                                                       \
            for (int v = 0; v < (W); v++)                                                      \
                acc[R][v] = dot4_u8(acc[R][v], _mm256_loadu_si256((const __m256i *)(pa + 32 * v)), \
                                    wa, ones);                                                 \
        }                                                                                      \
    } while (0)

/* one block of 4 rows x 16 pixels (W = 2 vectors) or 8 pixels (W = 1) */
#define PAIR_BLOCK(W)                                                                          \
    do {                                                                                       \
        __m256i acc[4][W];                                                                     \
        for (int r = 0; r < 4; r++) {                                                          \
            __m256i init = _mm256_set1_epi32(row_init ? row_init[m + r] : 0);                  \
            for (int v = 0; v < (W); v++)                                                      \
                acc[r][v] = init;                                                              \
        }                                                                                      \
        const uint32_t *ord = p->order + (size_t)b * (size_t)p->stride;                        \
        const int8_t *wq = p->w + (size_t)b * (size_t)p->stride * 16;                          \
        int np = p->npairs[b], ns = p->nsingles[b];                                            \
        for (int s = 0; s < np; s++, ord += 2, wq += 32) {                                     \
            const uint8_t *pa = brows[ord[0]] + 4 * (size_t)n0;                                \
            const uint8_t *pb = brows[ord[1]] + 4 * (size_t)n0;                                \
            __m256i a[W], bb[W];                                                               \
            for (int v = 0; v < (W); v++) {                                                    \
                a[v] = _mm256_loadu_si256((const __m256i *)(pa + 32 * v));                     \
                bb[v] = _mm256_loadu_si256((const __m256i *)(pb + 32 * v));                    \
            }                                                                                  \
            for (int r = 0; r < 4; r++) {                                                      \
                __m256i wa = bcast_quad(wq + 4 * r), wb = bcast_quad(wq + 16 + 4 * r);         \
                for (int v = 0; v < (W); v++)                                                  \
                    acc[r][v] = dot8_u8(acc[r][v], a[v], wa, bb[v], wb, ones);                 \
            }                                                                                  \
        }                                                                                      \
        for (int s = 0; s < ns; s++, ord++, wq += 16) {                                        \
            const uint8_t *pa = brows[ord[0]] + 4 * (size_t)n0;                                \
            __m256i a[W];                                                                      \
            for (int v = 0; v < (W); v++)                                                      \
                a[v] = _mm256_loadu_si256((const __m256i *)(pa + 32 * v));                     \
            for (int r = 0; r < 4; r++) {                                                      \
                __m256i wa = bcast_quad(wq + 4 * r);                                           \
                for (int v = 0; v < (W); v++)                                                  \
                    acc[r][v] = dot4_u8(acc[r][v], a[v], wa, ones);                            \
            }                                                                                  \
        }                                                                                      \
        const uint32_t *cq = p->corr_q + (size_t)b * (size_t)p->stride;                        \
        const int8_t *cw = p->corr_w + (size_t)b * (size_t)p->stride * 4;                      \
        const int *nc = p->ncorr + 4 * b;                                                      \
        /* one-row corrections, a constant row each (acc stays in registers) */                \
        CORR_ROW(W, 0);                                                                        \
        CORR_ROW(W, 1);                                                                        \
        CORR_ROW(W, 2);                                                                        \
        CORR_ROW(W, 3);                                                                        \
        for (int r = 0; r < 4; r++)                                                            \
            tq_store16_epi32(c + (size_t)(m + r) * ldc + n0, acc[r][0], acc[r][(W) - 1],     \
                             ncols);                                                         \
    } while (0)

void tq_qgemm_c4u_pairs_avx2(const tq_c4u_pairs *p, const int8_t *w, int N,
                             const uint8_t *const *brows, const int32_t *row_init, int32_t *c,
                             size_t ldc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (int n0 = 0; n0 < N; n0 += 16) {
        int ncols = N - n0 < 16 ? N - n0 : 16;
        for (int b = 0, m = 0; b < p->blocks; b++, m += 4) {
            if (ncols > 8)
                PAIR_BLOCK(2);
            else
                PAIR_BLOCK(1);
        }
    }
    int m4 = 4 * p->blocks;
    if (m4 < p->M)
        tq_qgemm_c4u_avx2(p->M - m4, N, p->KQ, w + (size_t)m4 * 4 * (size_t)p->KQ, brows,
                          row_init ? row_init + m4 : NULL, c + (size_t)m4 * ldc, ldc);
}
