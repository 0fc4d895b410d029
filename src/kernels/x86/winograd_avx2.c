/* AVX2 Winograd F(2x2, 3x3) transforms (winograd.h): eight tiles of a tile
 * row per step, the same adds in the same order as the C reference. */
#include <immintrin.h>

#include "kernels/winograd.h"
#include "kernels/x86/avx2_lanes.h"

/* One row of B^T d (a combination of two input rows, taken element-wise
 * over the 18 floats the eight tiles read), then (B^T d) B along it. */
#define ROW_COMBINE(op, ra, rb, k)                                                           \
    do {                                                                                     \
        __m256 lo = op(_mm256_loadu_ps(ra), _mm256_loadu_ps(rb));                            \
        __m256 hi = op(_mm256_loadu_ps(ra + 8), _mm256_loadu_ps(rb + 8));                    \
        __m256 lo2 = op(_mm256_loadu_ps(ra + 2), _mm256_loadu_ps(rb + 2));                   \
        __m256 hi2 = op(_mm256_loadu_ps(ra + 10), _mm256_loadu_ps(rb + 10));                 \
        __m256 t0 = tq_even8(lo, hi), t1 = tq_odd8(lo, hi);                                  \
        __m256 t2 = tq_even8(lo2, hi2), t3 = tq_odd8(lo2, hi2);                              \
        float *o = out + (k) * 4 * xi_stride + tx;                                           \
        _mm256_storeu_ps(o, _mm256_sub_ps(t0, t2));                                          \
        _mm256_storeu_ps(o + xi_stride, _mm256_add_ps(t1, t2));                              \
        _mm256_storeu_ps(o + 2 * xi_stride, _mm256_sub_ps(t2, t1));                          \
        _mm256_storeu_ps(o + 3 * xi_stride, _mm256_sub_ps(t1, t3));                          \
    } while (0)

void tq_wino_in_avx2(const float *const rows[4], int64_t ntiles, float *out,
                     ptrdiff_t xi_stride)
{
    for (int64_t tx = 0; tx < ntiles; tx += TQ_WINO_VEC) {
        const float *d0 = rows[0] + 2 * tx, *d1 = rows[1] + 2 * tx;
        const float *d2 = rows[2] + 2 * tx, *d3 = rows[3] + 2 * tx;
        ROW_COMBINE(_mm256_sub_ps, d0, d2, 0); /* d0 - d2 */
        ROW_COMBINE(_mm256_add_ps, d1, d2, 1); /* d1 + d2 */
        ROW_COMBINE(_mm256_sub_ps, d2, d1, 2); /* d2 - d1 */
        ROW_COMBINE(_mm256_sub_ps, d1, d3, 3); /* d1 - d3 */
    }
}


/* bias, z and the clamp on 8 pixels, the C reference's order; writes all 8
 * when valid >= 8 or spilling is allowed (the extra pixels land in a row
 * rewritten later), else only the first `valid` */
static inline void finish8(__m256 v, const float *bias, const float *z, float *y, int64_t valid,
                           bool spill, bool clamp, __m256 vlo, __m256 vhi)
{
    if (valid <= 0)
        return;
    bool whole = valid >= 8 || spill;
    __m256i mask = tq_lane_mask(valid);
    if (bias)
        v = _mm256_add_ps(v, _mm256_broadcast_ss(bias));
    if (z)
        v = _mm256_add_ps(v, whole ? _mm256_loadu_ps(z) : _mm256_maskload_ps(z, mask));
    if (clamp) /* operand order keeps NaN, like the C reference */
        v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v));
    if (whole)
        _mm256_storeu_ps(y, v);
    else
        _mm256_maskstore_ps(y, mask, v); /* slow on some CPUs: plane ends only */
}

/* Interleave the even-column and odd-column outputs of eight tiles into 16
 * consecutive pixels of one output row and finish the first `valid`. */
static inline void store_row(__m256 even, __m256 odd, const float *bias, const float *z,
                             float *y, int64_t valid, bool spill, bool clamp, __m256 vlo,
                             __m256 vhi)
{
    __m256 l = _mm256_unpacklo_ps(even, odd), h = _mm256_unpackhi_ps(even, odd);
    finish8(_mm256_permute2f128_ps(l, h, 0x20), bias, z, y, valid, spill, clamp, vlo, vhi);
    finish8(_mm256_permute2f128_ps(l, h, 0x31), bias, z ? z + 8 : NULL, y + 8, valid - 8, spill,
            clamp, vlo, vhi);
}

/* Vectors of tiles from the last to the first, so what a row's last vector
 * spills into the row below (this tile row's second row, or the next tile
 * row's first) is written after it. */
static inline void out_rows(const float *m, ptrdiff_t xi_stride, int64_t ntiles,
                            const float *bias, const float *z0, const float *z1, float *y0,
                            float *y1, int64_t ow, int64_t rows_below, bool clamp, __m256 vlo,
                            __m256 vhi)
{
    /* floats the last vector writes past the row end */
    int64_t spill = 2 * ((ntiles - 1) / TQ_WINO_VEC * TQ_WINO_VEC) + 16 - ow;
    bool spill0 = rows_below * ow >= spill, spill1 = (rows_below - 1) * ow >= spill;
    for (int64_t tx = (ntiles - 1) / TQ_WINO_VEC * TQ_WINO_VEC; tx >= 0; tx -= TQ_WINO_VEC) {
        __m256 s0[4], s1[4];
        for (int i = 0; i < 4; i++) { /* M A: along the rows */
            const float *r = m + i * 4 * xi_stride + tx;
            __m256 r0 = _mm256_loadu_ps(r), r1 = _mm256_loadu_ps(r + xi_stride);
            __m256 r2 = _mm256_loadu_ps(r + 2 * xi_stride);
            __m256 r3 = _mm256_loadu_ps(r + 3 * xi_stride);
            s0[i] = _mm256_add_ps(_mm256_add_ps(r0, r1), r2);
            s1[i] = _mm256_sub_ps(_mm256_sub_ps(r1, r2), r3);
        }
        /* A^T (M A): output row 0 and 1, even and odd columns */
        __m256 o00 = _mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]);
        __m256 o01 = _mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]);
        int64_t x = 2 * tx, valid = ow - x;
        store_row(o00, o01, bias, z0 ? z0 + x : NULL, y0 + x, valid, spill0, clamp, vlo, vhi);
        if (y1) {
            __m256 o10 = _mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]);
            __m256 o11 = _mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]);
            store_row(o10, o11, bias, z1 ? z1 + x : NULL, y1 + x, valid, spill1, clamp, vlo,
                      vhi);
        }
    }
}

void tq_wino_out_avx2(const float *m, ptrdiff_t xi_stride, int64_t ntiles, const float *bias,
                      const float *z, float *y, bool two_rows, int64_t rows_below, int64_t ow,
                      bool clamp, float lo, float hi)
{
    out_rows(m, xi_stride, ntiles, bias, z, z && two_rows ? z + ow : NULL, y,
             two_rows ? y + ow : NULL, ow, rows_below, clamp, _mm256_set1_ps(lo),
             _mm256_set1_ps(hi));
}
