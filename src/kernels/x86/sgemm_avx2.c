/* AVX2+FMA sgemm register tile (see sgemm.h): up to 4 rows x 24 columns held
 * in 12 ymm accumulators; per k step, 3 B vector loads, 4 A broadcasts and 12
 * FMAs. Variants are instantiated per (rows, column vectors, full/masked) so
 * the hot loop of full tiles has no masks and no branches. */
#include <immintrin.h>

#include "kernels/sgemm.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE __m256i lane_mask(int valid)
{
    /* lanes [0, valid) set; valid may be <= 0 or >= 8 */
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), idx);
}

ALWAYS_INLINE void tile_impl(const int MR, const int NV, const bool FULL, int nr, int64_t k,
                             const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                             float *c, ptrdiff_t ldc, float alpha, bool load_c,
                             const float *bias_row, const float *bias_col, bool clamp, float lo,
                             float hi)
{
    __m256 acc[4][3];
    __m256i mask[3];
    for (int v = 0; v < NV; v++)
        mask[v] = lane_mask(nr - 8 * v);
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm256_setzero_ps();

    for (int64_t kk = 0; kk < k; kk++) {
        const float *br = b + kk * ldb;
        __m256 bv[3];
        for (int v = 0; v < NV; v++)
            bv[v] = FULL ? _mm256_loadu_ps(br + 8 * v) : _mm256_maskload_ps(br + 8 * v, mask[v]);
        for (int i = 0; i < MR; i++) {
            __m256 av = _mm256_broadcast_ss(a + i * lda + kk);
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }

    /* Epilogue in the same order as the C reference: alpha, +C, +bias, clamp. */
    const __m256 valpha = _mm256_set1_ps(alpha);
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    __m256 bcol[3];
    if (bias_col)
        for (int v = 0; v < NV; v++)
            bcol[v] = FULL ? _mm256_loadu_ps(bias_col + 8 * v)
                           : _mm256_maskload_ps(bias_col + 8 * v, mask[v]);
    for (int i = 0; i < MR; i++) {
        float *cr = c + i * ldc;
        for (int v = 0; v < NV; v++) {
            __m256 r = _mm256_mul_ps(valpha, acc[i][v]);
            if (load_c)
                r = _mm256_add_ps(r, FULL ? _mm256_loadu_ps(cr + 8 * v)
                                          : _mm256_maskload_ps(cr + 8 * v, mask[v]));
            if (bias_row)
                r = _mm256_add_ps(r, _mm256_set1_ps(bias_row[i]));
            if (bias_col)
                r = _mm256_add_ps(r, bcol[v]);
            if (clamp) /* operand order keeps NaN, like the C reference */
                r = _mm256_min_ps(vhi, _mm256_max_ps(vlo, r));
            if (FULL)
                _mm256_storeu_ps(cr + 8 * v, r);
            else
                _mm256_maskstore_ps(cr + 8 * v, mask[v], r);
        }
    }
}

#define TILE_ARGS                                                                           \
    int nr, int64_t k, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c, \
        ptrdiff_t ldc, float alpha, bool load_c, const float *bias_row, const float *bias_col,  \
        bool clamp, float lo, float hi
#define TILE_PASS nr, k, a, lda, b, ldb, c, ldc, alpha, load_c, bias_row, bias_col, clamp, lo, hi

#define DEFINE_TILE(MR, NV, FULL)                                                            \
    static void tile_##MR##x##NV##_##FULL(TILE_ARGS)                                         \
    {                                                                                        \
        tile_impl(MR, NV, FULL, TILE_PASS);                                                  \
    }
#define DEFINE_TILES(MR)                                                                     \
    DEFINE_TILE(MR, 1, 0) DEFINE_TILE(MR, 1, 1) DEFINE_TILE(MR, 2, 0) DEFINE_TILE(MR, 2, 1)  \
    DEFINE_TILE(MR, 3, 0) DEFINE_TILE(MR, 3, 1)
DEFINE_TILES(1)
DEFINE_TILES(2)
DEFINE_TILES(3)
DEFINE_TILES(4)

typedef void (*tile_variant)(TILE_ARGS);
#define ROW(MR)                                                                              \
    { { tile_##MR##x1_0, tile_##MR##x1_1 },                                                  \
      { tile_##MR##x2_0, tile_##MR##x2_1 },                                                  \
      { tile_##MR##x3_0, tile_##MR##x3_1 } }
static const tile_variant variants[4][3][2] = { ROW(1), ROW(2), ROW(3), ROW(4) };

void tq_sgemm_tile_avx2(int mr, int nr, int64_t k, const float *a, ptrdiff_t lda,
                        const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, float alpha,
                        bool load_c, const float *bias_row, const float *bias_col, bool clamp,
                        float lo, float hi)
{
    int nv = (nr + 7) / 8;
    int full = nr == nv * 8;
    variants[mr - 1][nv - 1][full](TILE_PASS);
}
