/* fp32 matrix multiply: C[m][n] = alpha * A[m][k] * B[k][n] (+ C) (+ bias),
 * optionally clamped, in one pass over C (the "epilogue" fuses Conv/Gemm bias
 * and Relu/Clip, and a residual Add, so the output is written once).
 *
 * A is row-major with a row stride lda (weights for Conv, activations for
 * Gemm). B is either raw row-major with a row stride ldb, or packed once (for
 * constant weights, at prepare time) into panels of TQ_SGEMM_NR columns:
 * panel p holds columns [p*NR, p*NR+NR) as k rows of NR floats, zero padded.
 *
 * Dispatch after dav1d: a table of tile kernels filled with the C reference,
 * then overridden by CPU tier. The blocked driver (tq_sgemm) is shared C. */
#ifndef TQ_KERNELS_SGEMM_H
#define TQ_KERNELS_SGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register tile: 4 rows x 24 columns (12 ymm accumulators). 4 divides the
 * channel counts of the CNNs we target (16/32/64/128), so no row is wasted. */
#define TQ_SGEMM_MR 4
#define TQ_SGEMM_NR 24
/* K block: one packed B micro-panel (KC x NR floats = 24 KiB) stays in L1. */
#define TQ_SGEMM_KC 256

/* What happens to each accumulated value before it is stored. */
typedef struct tq_sgemm_post {
    float alpha;          /* scales A*B (1 for plain products) */
    bool accumulate;      /* add the value already in C (Gemm beta*C, pre-filled) */
    const float *bias;    /* NULL, or bias[row] (per_col false) / bias[col] */
    bool bias_per_col;
    /* NULL, or a matrix added after the bias and before the clamp (a residual
     * Add fused into Conv): element (i, j) at residual[i*ldr + j]. */
    const float *residual;
    ptrdiff_t ldr;
    bool clamp;           /* clamp to [lo, hi]: Relu = [0, inf), Clip */
    float lo, hi;
} tq_sgemm_post;

/* Epilogue of one tile. Passed by pointer so the float parameters sit in
 * memory during the k loop instead of pinning a vector register. */
typedef struct tq_sgemm_epi {
    float alpha;
    bool load_c;              /* start from C (else from 0) */
    const float *bias_row;    /* mr values or NULL (pre-offset to the tile) */
    const float *bias_col;    /* nr values or NULL */
    const float *residual;    /* NULL or the tile's (0, 0) element, row stride ldr */
    ptrdiff_t ldr;
    bool clamp;
    float lo, hi;
} tq_sgemm_epi;

/* One register tile: rows [0, mr) x columns [0, nr), mr <= MR, nr <= NR.
 * b points at row 0 of the tile's columns; row i is at b + i*ldb, or at
 * b + offs[i] when offs is non-NULL (indirect rows). Loads past nr are
 * masked, so B rows need only nr valid floats. The driver passes bias and
 * clamp only with the final K block. */
typedef void (*tq_sgemm_tile_fn)(int mr, int nr, int64_t k, const float *a, ptrdiff_t lda,
                                 const float *b, ptrdiff_t ldb, const ptrdiff_t *offs,
                                 float *c, ptrdiff_t ldc, const tq_sgemm_epi *epi);

/* Every row tile of one column block: rows [0, m) in tiles of MR (the last
 * may be shorter) x columns [0, nr), nr <= NR; arguments as for a tile, with
 * epi->bias_row and epi->residual at row 0 (they advance with the rows). One
 * call per column block keeps the per-tile dispatch and epilogue set-up out
 * of short-K GEMMs (Winograd's K = channels). */
typedef void (*tq_sgemm_panel_fn)(int64_t m, int nr, int64_t k, const float *a, ptrdiff_t lda,
                                  const float *b, ptrdiff_t ldb, const ptrdiff_t *offs,
                                  float *c, ptrdiff_t ldc, const tq_sgemm_epi *epi);

typedef struct tq_sgemm_dsp {
    tq_sgemm_tile_fn tile;
    tq_sgemm_panel_fn panel;
} tq_sgemm_dsp;

/* Fill with the C reference, then the best kernels cpu_flags allows. */
void tq_sgemm_dsp_init(tq_sgemm_dsp *dsp, unsigned cpu_flags);
/* A process-wide table initialised from tq_cpu_flags() on first use. */
const tq_sgemm_dsp *tq_sgemm_dsp_get(void);

void tq_sgemm_tile_c(int mr, int nr, int64_t k, const float *a, ptrdiff_t lda,
                     const float *b, ptrdiff_t ldb, const ptrdiff_t *offs, float *c,
                     ptrdiff_t ldc, const tq_sgemm_epi *epi);
void tq_sgemm_panel_c(int64_t m, int nr, int64_t k, const float *a, ptrdiff_t lda,
                      const float *b, ptrdiff_t ldb, const ptrdiff_t *offs, float *c,
                      ptrdiff_t ldc, const tq_sgemm_epi *epi);
#if defined(TQ_HAVE_AVX2)
void tq_sgemm_panel_avx2(int64_t m, int nr, int64_t k, const float *a, ptrdiff_t lda,
                         const float *b, ptrdiff_t ldb, const ptrdiff_t *offs, float *c,
                         ptrdiff_t ldc, const tq_sgemm_epi *epi);
void tq_sgemm_tile_avx2(int mr, int nr, int64_t k, const float *a, ptrdiff_t lda,
                        const float *b, ptrdiff_t ldb, const ptrdiff_t *offs, float *c,
                        ptrdiff_t ldc, const tq_sgemm_epi *epi);
#endif

/* Floats needed to pack a k x n B. */
size_t tq_sgemm_packed_b_floats(int64_t k, int64_t n);
/* Pack B where element (kk, j) is at b[kk*stride_k + j*stride_n] (so a
 * transposed B is stride_k = 1, stride_n = k). */
void tq_sgemm_pack_b(const float *b, ptrdiff_t stride_k, ptrdiff_t stride_n, int64_t k,
                     int64_t n, float *packed);

/* C = post(A * B). b_packed selects the B layout (ldb ignored when packed;
 * then b is the start of the packing of all n columns). */
void tq_sgemm(const tq_sgemm_dsp *dsp, int64_t m, int64_t n, int64_t k, const float *a,
              ptrdiff_t lda, const float *b, ptrdiff_t ldb, bool b_packed, float *c,
              ptrdiff_t ldc, const tq_sgemm_post *post);

/* Indirect B: element (kk, j) is b[offs[kk] + j]. A convolution reads its
 * input through this with one offset per (channel, ky, kx) tap, so no
 * im2col copy is made (see conv.h, tq_conv_phase_*). */
void tq_sgemm_indirect(const tq_sgemm_dsp *dsp, int64_t m, int64_t n, int64_t k,
                       const float *a, ptrdiff_t lda, const float *b, const ptrdiff_t *offs,
                       float *c, ptrdiff_t ldc, const tq_sgemm_post *post);

#endif
