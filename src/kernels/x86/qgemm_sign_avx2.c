/* qgemm_c4s (kernels/qgemm.h) on plain AVX2: s8 activations x s8 weights in
 * [-127, 127], 4 channels per 32-bit lane, with the sign trick.
 *
 * vpmaddubsw multiplies u8 x s8 and adds pairs into int16 with saturation.
 * Feeding it |a| (vpabsb: |-128| = 0x80 = 128 read as u8) and sign(a) * w
 * (vpsignb: w negated where a < 0, zeroed where a == 0) gives the products a
 * * w exactly, and a pair sum is at most 2 * 128 * 127 = 32512 < 32767: it
 * never saturates. w = -128 would make sign(a) * w overflow, so callers pick
 * this kernel only when no weight is -128 (checked at pack time). vpmaddwd
 * with ones then widens pairs of int16 to int32 (exact), completing the sum
 * of the 4 channels of a lane -- the same result as vpdpbusd on the
 * corresponding unsigned data.
 *
 * Blocking: up to 4 output channels x 16 pixels (8 int32 accumulators, the
 * two raw activation vectors, their absolute values, the ones vector and a
 * broadcast weight quad: 15 of the 16 ymm registers). |a| is computed once
 * per activation vector and reused by every output channel. */
#include <immintrin.h>
#include <string.h>

#include "kernels/qgemm.h"
#include "kernels/x86/avx2_lanes.h"

#define MRS 4

/* acc += sum over each lane's 4 bytes of a * w (a signed activations, absa =
 * |a|, w a broadcast weight quad in [-127, 127]); exact (see above). */
static inline __m256i dot4_sign(__m256i acc, __m256i absa, __m256i a, __m256i w, __m256i ones)
{
    __m256i pairs = _mm256_maddubs_epi16(absa, _mm256_sign_epi8(w, a));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
}

/* rows [m, m + R) x pixels [n0, n0 + 16) */
#define SIGN_BLOCK(R)                                                                          \
    do {                                                                                       \
        __m256i acc[R][2];                                                                     \
        for (int r = 0; r < (R); r++) {                                                        \
            __m256i init = _mm256_set1_epi32(row_init ? row_init[m + r] : 0);                  \
            acc[r][0] = init;                                                                  \
            acc[r][1] = init;                                                                  \
        }                                                                                      \
        const int8_t *w0 = w + (size_t)m * 4 * (size_t)KQ;                                     \
        for (int q = 0; q < KQ; q++) {                                                         \
            const int8_t *bp = brows[q] + 4 * (size_t)n0;                                      \
            __m256i b0 = _mm256_loadu_si256((const __m256i *)bp);                              \
            __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + 32));                       \
            __m256i abs0 = _mm256_abs_epi8(b0), abs1 = _mm256_abs_epi8(b1);                    \
            for (int r = 0; r < (R); r++) {                                                    \
                int32_t quad;                                                                  \
                memcpy(&quad, w0 + (size_t)r * 4 * (size_t)KQ + 4 * (size_t)q, 4);            \
                __m256i wv = _mm256_set1_epi32(quad);                                          \
                acc[r][0] = dot4_sign(acc[r][0], abs0, b0, wv, ones);                          \
                acc[r][1] = dot4_sign(acc[r][1], abs1, b1, wv, ones);                          \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (R); r++)                                                          \
            tq_store16_epi32(c + (size_t)(m + r) * ldc + n0, acc[r][0], acc[r][1],           \
                             ncols);                                                         \
    } while (0)

void tq_qgemm_c4s_avx2(int M, int N, int KQ, const int8_t *w, const int8_t *const *brows,
                       const int32_t *row_init, int32_t *c, size_t ldc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (int n0 = 0; n0 < N; n0 += 16) {
        int ncols = N - n0 < 16 ? N - n0 : 16;
        int m = 0;
        for (; m + MRS <= M; m += MRS)
            SIGN_BLOCK(MRS);
        for (; m + 2 <= M; m += 2)
            SIGN_BLOCK(2);
        for (; m < M; m++)
            SIGN_BLOCK(1);
    }
}
