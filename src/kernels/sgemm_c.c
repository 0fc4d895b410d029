/* Portable C reference of the sgemm register tile (sgemm.h). Sums in k order
 * with one float accumulator per output, like the SIMD kernels, so they
 * differ only by FMA rounding. */
#include "kernels/sgemm.h"

void tq_sgemm_tile_c(int mr, int nr, int64_t k, const float *a, ptrdiff_t lda,
                     const float *b, ptrdiff_t ldb, const ptrdiff_t *offs, float *c,
                     ptrdiff_t ldc, const tq_sgemm_epi *epi)
{
    const float alpha = epi->alpha, lo = epi->lo, hi = epi->hi;
    const float *bias_row = epi->bias_row, *bias_col = epi->bias_col;
    const bool load_c = epi->load_c, clamp = epi->clamp;
    float acc[TQ_SGEMM_MR][TQ_SGEMM_NR] = { { 0 } };
    for (int64_t kk = 0; kk < k; kk++) {
        const float *brow = offs ? b + offs[kk] : b + kk * ldb;
        for (int i = 0; i < mr; i++) {
            float av = a[i * lda + kk];
            for (int j = 0; j < nr; j++)
                acc[i][j] += av * brow[j];
        }
    }
    for (int i = 0; i < mr; i++) {
        float *crow = c + i * ldc;
        for (int j = 0; j < nr; j++) {
            float v = alpha * acc[i][j];
            if (load_c)
                v += crow[j];
            if (bias_row)
                v += bias_row[i];
            if (bias_col)
                v += bias_col[j];
            if (epi->residual)
                v += epi->residual[i * epi->ldr + j];
            if (clamp)
                v = v < lo ? lo : (v > hi ? hi : v);
            crow[j] = v;
        }
    }
}

void tq_sgemm_panel_c(int64_t m, int nr, int64_t k, const float *a, ptrdiff_t lda,
                      const float *b, ptrdiff_t ldb, const ptrdiff_t *offs, float *c,
                      ptrdiff_t ldc, const tq_sgemm_epi *epi)
{
    for (int64_t i0 = 0; i0 < m; i0 += TQ_SGEMM_MR) {
        int mr = (int)(m - i0 < TQ_SGEMM_MR ? m - i0 : TQ_SGEMM_MR);
        tq_sgemm_epi e = *epi;
        if (e.bias_row)
            e.bias_row += i0;
        if (e.residual)
            e.residual += i0 * e.ldr;
        tq_sgemm_tile_c(mr, nr, k, a + i0 * lda, lda, b, ldb, offs, c + i0 * ldc, ldc, &e);
    }
}
