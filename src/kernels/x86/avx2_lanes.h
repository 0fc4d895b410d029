/* Small AVX2 lane helpers shared by the kernels: tail masks, even/odd
 * de-interleaving (stride-2 reads) and partial int32 row stores. */
#ifndef TQ_KERNELS_X86_AVX2_LANES_H
#define TQ_KERNELS_X86_AVX2_LANES_H

#include <immintrin.h>
#include <stdint.h>

/* lanes [0, valid) set; valid may be <= 0 or >= 8 */
static inline __m256i tq_lane_mask(int64_t valid)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int v = valid < 0 ? 0 : (valid > 8 ? 8 : (int)valid);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(v), idx);
}

/* even / odd floats of p[0..15] given as lo = p[0..7], hi = p[8..15] */
static inline __m256 tq_even8(__m256 lo, __m256 hi)
{
    __m256 s = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

static inline __m256 tq_odd8(__m256 lo, __m256 hi)
{
    __m256 s = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Store the first ncols (1..16) of v0:v1 at dst with masked stores
 * (vpmaskmovd writes only the selected lanes: nothing past ncols is touched,
 * and no scalar memcpy per row of a narrow block). */
static inline void tq_store16_epi32(int32_t *dst, __m256i v0, __m256i v1, int ncols)
{
    if (ncols >= 8) {
        _mm256_storeu_si256((__m256i *)dst, v0);
        if (ncols == 16)
            _mm256_storeu_si256((__m256i *)(dst + 8), v1);
        else if (ncols > 8)
            _mm256_maskstore_epi32((int *)(dst + 8), tq_lane_mask(ncols - 8), v1);
    } else {
        _mm256_maskstore_epi32((int *)dst, tq_lane_mask(ncols), v0);
    }
}

#endif
