/* qgemm_ind (kernels/qgemm.h) with AVX512-VNNI on 256-bit vectors
 * (vpdpwssd, AVX512VL): the int16-pair multiply and the int32 accumulate in
 * one instruction instead of vpmaddwd + vpaddd, the same exact arithmetic
 * (|a*b + c*d| <= 2 * 255 * 255, no saturation, no wrap-around for any K the
 * ops allow). EVEX gives 32 vector registers, so 8 rows x 16 columns of
 * accumulators stay in registers. Compiled with a per-function target so the
 * rest of the AVX2 library does not require AVX-512; dispatched only when
 * tq_cpu_flags() reports TQ_CPU_FLAG_AVX512VNNI. */
#include <immintrin.h>
#include <string.h>

#include "kernels/qgemm.h"

#define VNNI_TARGET __attribute__((target("avx2,fma,avx512f,avx512vl,avx512vnni")))
#define MRV 8

VNNI_TARGET static inline void store_tile_v(int32_t *dst, __m256i lo, __m256i hi, int ncols)
{
    __m256i c0 = _mm256_permute2x128_si256(lo, hi, 0x20);
    __m256i c1 = _mm256_permute2x128_si256(lo, hi, 0x31);
    if (ncols == 16) {
        _mm256_storeu_si256((__m256i *)dst, c0);
        _mm256_storeu_si256((__m256i *)(dst + 8), c1);
    } else {
        int32_t tmp[16];
        _mm256_storeu_si256((__m256i *)tmp, c0);
        _mm256_storeu_si256((__m256i *)(tmp + 8), c1);
        memcpy(dst, tmp, sizeof(int32_t) * (size_t)ncols);
    }
}

static inline int32_t load_pair_v(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* rows [m, m + R) x columns [n0, n0 + 16) */
#define VNNI_BLOCK(R)                                                                          \
    do {                                                                                       \
        __m256i acc[R][2];                                                                     \
        for (int r = 0; r < (R); r++) {                                                        \
            __m256i init = _mm256_set1_epi32(row_init ? row_init[m + r] : 0);                  \
            acc[r][0] = init;                                                                  \
            acc[r][1] = init;                                                                  \
        }                                                                                      \
        const int16_t *a0 = a + (size_t)m * lda;                                               \
        for (int k = 0; k < K2; k += 2) {                                                      \
            __m256i r0 = _mm256_loadu_si256((const __m256i *)(brows[k] + n0));                 \
            __m256i r1 = _mm256_loadu_si256((const __m256i *)(brows[k + 1] + n0));             \
            __m256i blo = _mm256_unpacklo_epi16(r0, r1);                                       \
            __m256i bhi = _mm256_unpackhi_epi16(r0, r1);                                       \
            for (int r = 0; r < (R); r++) {                                                    \
                __m256i av = _mm256_set1_epi32(load_pair_v(a0 + (size_t)r * lda + k));         \
                acc[r][0] = _mm256_dpwssd_epi32(acc[r][0], blo, av);                           \
                acc[r][1] = _mm256_dpwssd_epi32(acc[r][1], bhi, av);                           \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (R); r++)                                                          \
            store_tile_v(c + (size_t)(m + r) * ldc + n0, acc[r][0], acc[r][1], ncols);         \
    } while (0)

VNNI_TARGET void tq_qgemm_ind_vnni(int M, int N, int K2, const int16_t *a, size_t lda,
                                   const int16_t *const *brows, const int32_t *row_init,
                                   int32_t *c, size_t ldc)
{
    for (int n0 = 0; n0 < N; n0 += 16) {
        int ncols = N - n0 < 16 ? N - n0 : 16;
        int m = 0;
        for (; m + MRV <= M; m += MRV)
            VNNI_BLOCK(MRV);
        for (; m + 4 <= M; m += 4)
            VNNI_BLOCK(4);
        for (; m < M; m++)
            VNNI_BLOCK(1);
    }
}

/* rows [m, m + R) x pixels [n0, n0 + 16): one 32-byte load per 8 pixels and
 * channel quad, the weight quad broadcast */
#define C4_BLOCK(R)                                                                            \
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
                acc[r][0] = _mm256_dpbusd_epi32(acc[r][0], b0, wv);                            \
                acc[r][1] = _mm256_dpbusd_epi32(acc[r][1], b1, wv);                            \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (R); r++) {                                                        \
            int32_t *dst = c + (size_t)(m + r) * ldc + n0;                                     \
            if (ncols == 16) {                                                                 \
                _mm256_storeu_si256((__m256i *)dst, acc[r][0]);                                \
                _mm256_storeu_si256((__m256i *)(dst + 8), acc[r][1]);                          \
            } else {                                                                           \
                int32_t tmp[16];                                                               \
                _mm256_storeu_si256((__m256i *)tmp, acc[r][0]);                                \
                _mm256_storeu_si256((__m256i *)(tmp + 8), acc[r][1]);                          \
                memcpy(dst, tmp, sizeof(int32_t) * (size_t)ncols);                             \
            }                                                                                  \
        }                                                                                      \
    } while (0)

VNNI_TARGET void tq_qgemm_c4_vnni(int M, int N, int KQ, const int8_t *w,
                                  const uint8_t *const *brows, const int32_t *row_init,
                                  int32_t *c, size_t ldc)
{
    for (int n0 = 0; n0 < N; n0 += 16) {
        int ncols = N - n0 < 16 ? N - n0 : 16;
        int m = 0;
        for (; m + MRV <= M; m += MRV)
            C4_BLOCK(MRV);
        for (; m + 4 <= M; m += 4)
            C4_BLOCK(4);
        for (; m < M; m++)
            C4_BLOCK(1);
    }
}
