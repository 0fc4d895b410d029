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

#define MRU 4

/* Store the first ncols (1..16) of v0:v1 at dst with masked stores
 * (vpmaskmovd writes only the selected lanes: nothing past ncols is touched,
 * and no scalar memcpy per row of a narrow block). */
static inline void store16(int32_t *dst, __m256i v0, __m256i v1, int ncols)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    if (ncols >= 8) {
        _mm256_storeu_si256((__m256i *)dst, v0);
        if (ncols == 16)
            _mm256_storeu_si256((__m256i *)(dst + 8), v1);
        else if (ncols > 8)
            _mm256_maskstore_epi32((int *)(dst + 8),
                                   _mm256_cmpgt_epi32(_mm256_set1_epi32(ncols - 8), lane), v1);
    } else {
        _mm256_maskstore_epi32((int *)dst, _mm256_cmpgt_epi32(_mm256_set1_epi32(ncols), lane),
                               v0);
    }
}

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
            store16(c + (size_t)(m + r) * ldc + n0, acc[r][0], acc[r][1], ncols);              \
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
            store16(c + (size_t)(m + r) * ldc + n0, acc[r], acc[r], ncols);                    \
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
