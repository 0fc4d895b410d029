/* fp32 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3)
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
 *
 * Every 2x2 block of outputs ("tile") of a channel pair is
 * A^T [ (G g G^T) .* (B^T d B) ] A, with d the 4x4 input patch and g the 3x3
 * filter: 16 multiplies instead of 36. Summed over input channels this is 16
 * independent GEMMs, one per position xi of the 4x4 transformed tile:
 *     M[xi] (Cout x T) = U[xi] (Cout x Cin) * V[xi] (Cin x T)
 * with U = G g G^T (weights, transformed once at prepare time) and V =
 * B^T d B (input, transformed per run), T tiles. The multiplies drop 2.25x;
 * the transforms are adds only (B, A entries are 0 and +-1; G has 1/2,
 * which is exact), so the error is that of a short sum, well inside the
 * fp32 tolerance the runtime is held to against ONNX Runtime.
 *
 * Tiles are processed in blocks of whole tile rows sized to stay in L2: the
 * input transform writes V for the block, 16 sgemm calls make M, the output
 * transform adds bias and the fused residual Z, clamps (Relu/Clip) and
 * writes Y. No padded copy of the input and no junk-column pass: each
 * input row is copied once into a zero-bordered row buffer in L1. */
#ifndef TQ_KERNELS_WINOGRAD_H
#define TQ_KERNELS_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/conv.h"
#include "kernels/sgemm.h"

/* Transformed tile positions (4x4). */
#define TQ_WINO_XI 16
/* Tiles per vector step of the transforms: the AVX2 transforms handle 8
 * tiles at once, so every routine below works in multiples of it. */
#define TQ_WINO_VEC 8

/* Input transform of one tile row of one channel: rows[i] (i < 4) is the
 * input row 2*ty - pt + i, zero bordered, with rows[i][j] = x[j - pl] (so
 * tile tx reads rows[i][2tx .. 2tx + 3]); rows must be readable up to
 * 2 * round_up(ntiles, 8) + 2 floats. Writes V[xi] of tile tx to
 * out[xi * xi_stride + tx] for every tx < round_up(ntiles, 8) (the tiles past
 * ntiles see zeros or the next pixels: finite values the caller ignores). */
typedef void (*tq_wino_in_fn)(const float *const rows[4], int64_t ntiles, float *out,
                              ptrdiff_t xi_stride);

/* Output transform of one tile row of one output channel: M[xi] of tile tx
 * is m[xi * xi_stride + tx] (readable for tx < round_up(ntiles, 8)). Writes
 * output row y[x] and, when two_rows, the next row y[ow + x], for
 * x < ow <= 2 * ntiles: y = clamp(A^T M A + *bias + z), bias (one value)
 * and z (the residual, laid out like y) optional, clamp only when asked;
 * the same order of operations as the direct conv's epilogue. The AVX2
 * version writes whole vectors: past a row's end it may write into the row
 * below (which a later call, or this one, rewrites) and read z there, as
 * far as rows_below (the plane's rows after row y) allow: never into the
 * next plane. */
typedef void (*tq_wino_out_fn)(const float *m, ptrdiff_t xi_stride, int64_t ntiles,
                               const float *bias, const float *z, float *y, bool two_rows,
                               int64_t rows_below, int64_t ow, bool clamp, float lo, float hi);

typedef struct tq_wino_dsp {
    tq_wino_in_fn in;
    tq_wino_out_fn out;
} tq_wino_dsp;

void tq_wino_dsp_init(tq_wino_dsp *dsp, unsigned cpu_flags);
const tq_wino_dsp *tq_wino_dsp_get(void);

void tq_wino_in_c(const float *const rows[4], int64_t ntiles, float *out, ptrdiff_t xi_stride);
void tq_wino_out_c(const float *m, ptrdiff_t xi_stride, int64_t ntiles, const float *bias,
                   const float *z, float *y, bool two_rows, int64_t rows_below, int64_t ow,
                   bool clamp, float lo, float hi);
#if defined(TQ_HAVE_AVX2)
void tq_wino_in_avx2(const float *const rows[4], int64_t ntiles, float *out,
                     ptrdiff_t xi_stride);
void tq_wino_out_avx2(const float *m, ptrdiff_t xi_stride, int64_t ntiles, const float *bias,
                      const float *z, float *y, bool two_rows, int64_t rows_below, int64_t ow,
                      bool clamp, float lo, float hi);
#endif

/* A conv the Winograd path takes: 3x3, stride 1, dilation 1, one group, and
 * enough channels on both sides for the GEMMs to beat the direct conv (the
 * transforms cost per channel what the direct conv spends on a few). */
bool tq_wino_suits(const tq_conv2d_geom *g, int64_t cout);

typedef struct tq_wino_plan {
    tq_conv2d_geom geom;   /* c = input channels */
    int64_t cout;
    int64_t th, tw;        /* tiles per image: ceil(oh / 2) x ceil(ow / 2) */
    int64_t block_rows;    /* tile rows per block */
    int64_t ldt;           /* row stride of the V and M matrices (floats) */
    int64_t v_xi, m_xi;    /* floats between consecutive V[xi] / M[xi] */
    int64_t row_floats;    /* floats of one zero-bordered input row buffer */
} tq_wino_plan;

/* Plan for a batch of images; scratch floats needed by tq_wino_conv. */
void tq_wino_plan_init(tq_wino_plan *p, const tq_conv2d_geom *g, int64_t cout, int64_t batch);
size_t tq_wino_scratch_floats(const tq_wino_plan *p);

/* U[xi][co][ci] = (G w[co][ci] G^T)[xi]: TQ_WINO_XI * cout * c floats. */
size_t tq_wino_weight_floats(const tq_wino_plan *p);
void tq_wino_weights(const tq_wino_plan *p, const float *w, float *u);

/* Y = clamp(conv(X, W) + bias + Z) for `batch` NCHW images; bias and z may
 * be NULL (z has Y's shape). scratch: tq_wino_scratch_floats floats. */
void tq_wino_conv(const tq_wino_plan *p, const tq_sgemm_dsp *gemm, const tq_wino_dsp *dsp,
                  int64_t batch, const float *x, const float *u, const float *bias,
                  const float *z, float *y, bool clamp, float lo, float hi, float *scratch);

#endif
