/* AVX2+FMA sgemm register tile (see sgemm.h): up to 4 rows x 24 columns held
 * in 12 ymm accumulators; per k step, 3 B vector loads, 4 A broadcasts and 12
 * FMAs. Variants are instantiated per (rows, column vectors, full/masked) so
 * the hot loop of full tiles has no masks and no branches. */
#include <immintrin.h>

#include "kernels/sgemm.h"
#include "kernels/x86/avx2_lanes.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Accumulators are named scalars, not an array: GCC keeps an array in
 * memory and stores all twelve every k step, halving the FMA rate. */
#define ACC_DECL(i)                                                                          \
    __m256 c##i##0 = _mm256_setzero_ps(), c##i##1 = _mm256_setzero_ps(),                     \
           c##i##2 = _mm256_setzero_ps()
#define ACC_STEP(i)                                                                          \
    if (MR > i) {                                                                            \
        __m256 av = _mm256_broadcast_ss(a + i * lda + kk);                                   \
        c##i##0 = _mm256_fmadd_ps(av, b0, c##i##0);                                          \
        if (NV > 1)                                                                          \
            c##i##1 = _mm256_fmadd_ps(av, b1, c##i##1);                                      \
        if (NV > 2)                                                                          \
            c##i##2 = _mm256_fmadd_ps(av, b2, c##i##2);                                      \
    }

/* Epilogue in the same order as the C reference: alpha, +C, +bias,
 * +residual, clamp. */
ALWAYS_INLINE void store_vec(const bool FULL, __m256 r, float *dst, __m256i mask, __m256 valpha,
                             bool load_c, const float *bias_row, int i, const float *bias_col,
                             __m256 bcol, const float *res, bool clamp, __m256 vlo, __m256 vhi)
{
    r = _mm256_mul_ps(valpha, r);
    if (load_c)
        r = _mm256_add_ps(r, FULL ? _mm256_loadu_ps(dst) : _mm256_maskload_ps(dst, mask));
    if (bias_row)
        r = _mm256_add_ps(r, _mm256_set1_ps(bias_row[i]));
    if (bias_col)
        r = _mm256_add_ps(r, bcol);
    if (res)
        r = _mm256_add_ps(r, FULL ? _mm256_loadu_ps(res) : _mm256_maskload_ps(res, mask));
    if (clamp) /* operand order keeps NaN, like the C reference */
        r = _mm256_min_ps(vhi, _mm256_max_ps(vlo, r));
    if (FULL)
        _mm256_storeu_ps(dst, r);
    else
        _mm256_maskstore_ps(dst, mask, r);
}

#define ACC_STORE(i)                                                                         \
    if (MR > i) {                                                                            \
        float *cr = c + i * ldc;                                                             \
        const float *rr = res ? res + i * ldr : NULL;                                        \
        store_vec(FULL, c##i##0, cr, m0, valpha, load_c, bias_row, i, bias_col, bc0, rr,     \
                  clamp, vlo, vhi);                                                          \
        if (NV > 1)                                                                          \
            store_vec(FULL, c##i##1, cr + 8, m1, valpha, load_c, bias_row, i, bias_col, bc1, \
                      rr ? rr + 8 : NULL, clamp, vlo, vhi);                                  \
        if (NV > 2)                                                                          \
            store_vec(FULL, c##i##2, cr + 16, m2, valpha, load_c, bias_row, i, bias_col, bc2, \
                      rr ? rr + 16 : NULL, clamp, vlo, vhi);                                 \
    }

/* B row kk of the tile is at b + boff(kk): kk*ldb (strided or packed), or
 * offs[kk] (indirect: rows anywhere, e.g. shifted input rows of a conv). */
ALWAYS_INLINE void tile_impl(const bool INDIRECT, const int MR, const int NV, const bool FULL,
                             const bool PLAIN, int nr, int64_t k,
                             const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                             const ptrdiff_t *offs, float *c, ptrdiff_t ldc,
                             const tq_sgemm_epi *epi)
{
    const __m256i m0 = tq_lane_mask(nr), m1 = tq_lane_mask(nr - 8), m2 = tq_lane_mask(nr - 16);
    ACC_DECL(0);
    ACC_DECL(1);
    ACC_DECL(2);
    ACC_DECL(3);
    for (int64_t kk = 0; kk < k; kk++) {
        const float *br = INDIRECT ? b + offs[kk] : b + kk * ldb;
        __m256 b0, b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps();
        b0 = FULL ? _mm256_loadu_ps(br) : _mm256_maskload_ps(br, m0);
        if (NV > 1)
            b1 = FULL ? _mm256_loadu_ps(br + 8) : _mm256_maskload_ps(br + 8, m1);
        if (NV > 2)
            b2 = FULL ? _mm256_loadu_ps(br + 16) : _mm256_maskload_ps(br + 16, m2);
        ACC_STEP(0)
        ACC_STEP(1)
        ACC_STEP(2)
        ACC_STEP(3)
    }
    if (PLAIN && FULL) { /* C = A*B: nothing to add, scale or clamp */
#define PLAIN_STORE(i)                                                                       \
    if (MR > i) {                                                                            \
        _mm256_storeu_ps(c + i * ldc, c##i##0);                                              \
        if (NV > 1)                                                                          \
            _mm256_storeu_ps(c + i * ldc + 8, c##i##1);                                      \
        if (NV > 2)                                                                          \
            _mm256_storeu_ps(c + i * ldc + 16, c##i##2);                                     \
    }
        PLAIN_STORE(0)
        PLAIN_STORE(1)
        PLAIN_STORE(2)
        PLAIN_STORE(3)
        return;
    }
    const float *bias_row = epi->bias_row, *bias_col = epi->bias_col, *res = epi->residual;
    const ptrdiff_t ldr = epi->ldr;
    const bool load_c = epi->load_c, clamp = epi->clamp;
    const __m256 valpha = _mm256_set1_ps(epi->alpha);
    const __m256 vlo = _mm256_set1_ps(epi->lo), vhi = _mm256_set1_ps(epi->hi);
    __m256 bc0 = _mm256_setzero_ps(), bc1 = bc0, bc2 = bc0;
    if (bias_col) {
        bc0 = FULL ? _mm256_loadu_ps(bias_col) : _mm256_maskload_ps(bias_col, m0);
        if (NV > 1)
            bc1 = FULL ? _mm256_loadu_ps(bias_col + 8) : _mm256_maskload_ps(bias_col + 8, m1);
        if (NV > 2)
            bc2 = FULL ? _mm256_loadu_ps(bias_col + 16) : _mm256_maskload_ps(bias_col + 16, m2);
    }
    ACC_STORE(0)
    ACC_STORE(1)
    ACC_STORE(2)
    ACC_STORE(3)
}

#define TILE_ARGS                                                                           \
    int nr, int64_t k, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,       \
        const ptrdiff_t *offs, float *c, ptrdiff_t ldc, const tq_sgemm_epi *epi
#define TILE_PASS nr, k, a, lda, b, ldb, offs, c, ldc, epi
#define TILE_PASS_IMPL TILE_PASS

/* Everything the loop tests is a compile-time constant in each variant: a
 * runtime "indirect?" test in the loop costs the registers that keep all
 * twelve accumulators out of memory. */
#define DEFINE_TILE(IND, MR, NV, FULL)                                                       \
    static void tile_##IND##_##MR##x##NV##_##FULL(TILE_ARGS)                                 \
    {                                                                                        \
        tile_impl(IND, MR, NV, FULL, false, TILE_PASS_IMPL);                                 \
    }
#define DEFINE_TILES(IND, MR)                                                                \
    DEFINE_TILE(IND, MR, 1, 0) DEFINE_TILE(IND, MR, 1, 1) DEFINE_TILE(IND, MR, 2, 0)         \
    DEFINE_TILE(IND, MR, 2, 1) DEFINE_TILE(IND, MR, 3, 0) DEFINE_TILE(IND, MR, 3, 1)
DEFINE_TILES(0, 1)
DEFINE_TILES(0, 2)
DEFINE_TILES(0, 3)
DEFINE_TILES(0, 4)
DEFINE_TILES(1, 1)
DEFINE_TILES(1, 2)
DEFINE_TILES(1, 3)
DEFINE_TILES(1, 4)

/* All row tiles of a column block with the variant fixed: full 4-row tiles
 * inline in the loop, the last partial tile through the table. */
#define DEFINE_PANEL(IND, NV, FULL)                                                          \
    static void panel_##IND##_##NV##_##FULL(int64_t m, TILE_ARGS)                            \
    {                                                                                        \
        tq_sgemm_epi e = *epi;                                                               \
        bool plain = e.alpha == 1.0f && !e.load_c && !e.bias_row && !e.bias_col &&           \
                     !e.residual && !e.clamp;                                                \
        int64_t i0 = 0;                                                                      \
        for (; i0 + 4 <= m; i0 += 4) {                                                       \
            if (plain)                                                                       \
                tile_impl(IND, 4, NV, FULL, true, nr, k, a + i0 * lda, lda, b, ldb, offs,    \
                          c + i0 * ldc, ldc, &e);                                            \
            else                                                                             \
                tile_impl(IND, 4, NV, FULL, false, nr, k, a + i0 * lda, lda, b, ldb, offs,   \
                          c + i0 * ldc, ldc, &e);                                            \
            if (e.bias_row)                                                                  \
                e.bias_row += 4;                                                             \
            if (e.residual)                                                                  \
                e.residual += 4 * e.ldr;                                                     \
        }                                                                                    \
        if (i0 < m)                                                                          \
            variants[IND][m - i0 - 1][NV - 1][FULL](nr, k, a + i0 * lda, lda, b, ldb, offs,  \
                                                    c + i0 * ldc, ldc, &e);                  \
    }
#define DEFINE_PANELS(IND)                                                                   \
    DEFINE_PANEL(IND, 1, 0) DEFINE_PANEL(IND, 1, 1) DEFINE_PANEL(IND, 2, 0)                 \
    DEFINE_PANEL(IND, 2, 1) DEFINE_PANEL(IND, 3, 0) DEFINE_PANEL(IND, 3, 1)

typedef void (*tile_variant)(TILE_ARGS);
#define ROW(IND, MR)                                                                         \
    { { tile_##IND##_##MR##x1_0, tile_##IND##_##MR##x1_1 },                                  \
      { tile_##IND##_##MR##x2_0, tile_##IND##_##MR##x2_1 },                                  \
      { tile_##IND##_##MR##x3_0, tile_##IND##_##MR##x3_1 } }
static const tile_variant variants[2][4][3][2] = {
    { ROW(0, 1), ROW(0, 2), ROW(0, 3), ROW(0, 4) },
    { ROW(1, 1), ROW(1, 2), ROW(1, 3), ROW(1, 4) },
};

void tq_sgemm_tile_avx2(int mr, int nr, int64_t k, const float *a, ptrdiff_t lda,
                        const float *b, ptrdiff_t ldb, const ptrdiff_t *offs, float *c,
                        ptrdiff_t ldc, const tq_sgemm_epi *epi)
{
    int nv = (nr + 7) / 8;
    int full = nr == nv * 8;
    variants[offs != NULL][mr - 1][nv - 1][full](TILE_PASS);
}

DEFINE_PANELS(0)
DEFINE_PANELS(1)

typedef void (*panel_variant)(int64_t m, TILE_ARGS);
#define PANEL_ROW(IND)                                                                       \
    { { panel_##IND##_1_0, panel_##IND##_1_1 },                                              \
      { panel_##IND##_2_0, panel_##IND##_2_1 },                                              \
      { panel_##IND##_3_0, panel_##IND##_3_1 } }
static const panel_variant panels[2][3][2] = { PANEL_ROW(0), PANEL_ROW(1) };

void tq_sgemm_panel_avx2(int64_t m, int nr, int64_t k, const float *a, ptrdiff_t lda,
                         const float *b, ptrdiff_t ldb, const ptrdiff_t *offs, float *c,
                         ptrdiff_t ldc, const tq_sgemm_epi *epi)
{
    int nv = (nr + 7) / 8;
    int full = nr == nv * 8;
    panels[offs != NULL][nv - 1][full](m, TILE_PASS);
}
