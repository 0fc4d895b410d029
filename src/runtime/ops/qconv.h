/* The integer convolution engine used by ConvInteger, QLinearConv and the
 * fused dynamic conv (runtime/ops/fused_dynamic.c): shape checks and weight
 * packing at prepare (qconv.c), the input layouts its GEMMs read
 * (qconv_image.c), and the runs. Results are exact int32 sums. */
#ifndef TQ_RUNTIME_OPS_QCONV_H
#define TQ_RUNTIME_OPS_QCONV_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/conv.h"
#include "kernels/qgemm.h"
#include "runtime/op.h"

/* Integer 2-D convolution (ConvInteger core). Weights are widened to int16
 * with their zero points subtracted (at prepare when constant), inputs are
 * widened with x_zp subtracted while building columns (padding becomes 0 -
 * the ONNX padding value is x_zp), so the int32 result is exact. */
typedef struct tq_qconv {
    int64_t batch, group, cin_g, cout_g, cin, cout;
    int64_t ih, iw, oh, ow;
    /* > 1: a 1x1 unpadded strided convolution run as stride 1 on its
     * subsampled input (gathered at run time): the strides and input size
     * of the original, while sh, sw, ih, iw describe the stride-1 one */
    int sub_sh, sub_sw;
    int64_t sub_ih, sub_iw;
    int kh, kw, sh, sw, dh, dw, pt, pl;
    int k, k2;
    int64_t pixels;
    int rows_per_block;   /* output rows per column block */
    size_t ldb;           /* column block stride (int16) */
    bool x_signed, w_signed;
    int16_t *wpack;       /* cout x k2, NULL until packed */
    bool w_packed_at_prepare;
    /* Depthwise fast path (one channel per group, at most TQ_QDW_MAX_TAPS
     * taps): each channel is widened once into a zero-padded float plane
     * (x - x_zp, 0 outside), its columns split into sw phases so every tap of
     * an output row is one contiguous run; kernels/qgemm.h dw_taps sums the
     * taps exactly. */
    bool dw_fast;
    int64_t dw_rows, dw_ph_len; /* padded rows; floats per phase of a row */
    size_t cols_bytes;          /* column block, or the float plane */
    /* Implicit GEMM (group 1): the input is widened once into a zero-padded
     * int16 image (x - x_zp, 0 outside; columns split into sw phases) and
     * GEMM B rows point straight into it (kernels/qgemm.h qgemm_ind), no
     * column matrix. With stride 1 a block of output rows is one GEMM over
     * the padded width (the pad columns are computed and dropped). */
    bool implicit;
    int64_t ip_rows, ip_ph_len, ip_row_len, ip_plane; /* padded image geometry */
    int ip_block_rows;          /* output rows per GEMM */
    size_t ip_img_bytes;        /* image + slack; row pointers follow */
    int64_t *ip_koff;           /* per K row: offset of its first element */
    /* Channel-quad variant (chosen at prepare when the CPU has AVX512-VNNI
     * or AVX2, weights are constant int8 with zero points 0; see c4_signed
     * for the AVX2-only case): the padded image keeps
     * raw bytes (int8 flipped to uint8 by +128, padding = the zero point) with
     * 4 channels per pixel, and kernels/qgemm.h qgemm_c4 (vpdpbusd) takes 4
     * channels per step; the zero point comes out through the start values:
     * acc = sum x*w - x_zp * sum w. Exact like the int16 path. */
    bool c4;
    /* Without VNNI (AVX2 only) and when no weight is -128: the image holds
     * s8 (x - 128 for u8 inputs) and kernels/qgemm.h qgemm_c4s (the sign
     * trick, exact) replaces vpdpbusd; the zero point moves with the data. */
    bool c4_signed;
    /* Without VNNI, when every weight pair satisfies kernels/qgemm.h
     * tq_qgemm_c4u_fits (reduce-range weights always do), or for any
     * weights when the CPU table has qgemm_c4u_pairs and cout % 4 == 0
     * (its schedule splits the quads over the bound): the u8 image of the
     * VNNI path and qgemm_c4u / qgemm_c4u_pairs (plain vpmaddubsw, exact
     * under that bound); s8 inputs are flipped to u8 with the zero point.
     * Preferred to the sign trick (c4_signed): fewer instructions per
     * multiply-add, and pairs of quads share one vpmaddwd. */
    bool c4_u8s8;
    /* c4_u8s8 with a pairing schedule (kernels/qgemm.h tq_c4u_pairs; built
     * when the CPU table has qgemm_c4u_pairs): two quads per vpmaddwd */
    tq_c4u_pairs c4u_pairs;
    /* the weights pass tq_qgemm_c4u_fits: qgemm_c4u alone is exact; else
     * only the schedule (which splits quads) or qgemm_c4 (exact for any
     * weights: C, or VNNI) may run them */
    bool c4u_fits;
    /* One input channel, stride 1, no horizontal dilation (a stem conv):
     * the 4 bytes of an image pixel are 4 horizontal taps (x[i..i+3] of the
     * padded row) instead of 4 channels, so a 3-wide kernel row is one quad,
     * not three quads of which 3/4 are zero weights. */
    bool c4_taps;
    /* Small planes (ow <= 32), stride 1 or 2, with pad columns: instead of
     * one padded image whose GEMM columns include the pad columns between
     * output rows (2 of every 9 on a 7x7 plane; closed up afterwards), or
     * one half-empty GEMM per strided output row, kw * sh compact copies:
     * copy (kx, ry) row j holds padded row j*sh + ry at columns kx*dw +
     * ox*sw, ox < ow. Output pixel p = oy*ow + ox reads pixel p +
     * (ky*dh / sh)*ow of copy (kx, ky*dh % sh), so a block of output rows
     * is one contiguous GEMM. */
    bool c4_shift;
    int64_t c4_rows_par;        /* rows per copy: ceil(ip_rows / sh) */
    int kq;                     /* channel quads x kh x kw */
    int64_t c4_quads;           /* ceil(cin / 4) */
    int8_t *c4_w;               /* cout x 4kq */
    int32_t *c4_wsum;           /* per output channel: sum of its weights */
    int64_t *c4_koff;           /* per quad row: byte offset into the image */
} tq_qconv;

/* Column phase p of a padded row (qconv.h: columns split into sw phases of
 * ph_len): phase index i holds input column i * sw + p - pl, inside the
 * image for i in [*lo, *hi), padding elsewhere. */
static inline void tq_qconv_phase_span(const tq_qconv *q, int p, int64_t ph_len, int64_t *lo,
                                       int64_t *hi)
{
    int64_t first = q->pl - p, last = q->iw - 1 + q->pl - p;
    *lo = first > 0 ? (first + q->sw - 1) / q->sw : 0;
    *hi = last >= 0 ? last / q->sw + 1 : 0;
    *hi = *hi > ph_len ? ph_len : *hi;
    *lo = *lo > *hi ? *hi : *lo;
}

/* c4_shift: the first pixel of row j of copy (kx, ry) of quad cq */
static inline int64_t tq_qconv_shift_pixel(const tq_qconv *q, int kx, int64_t ry, int64_t cq,
                                           int64_t j)
{
    return (((kx * q->sh + ry) * q->c4_quads + cq) * q->c4_rows_par + j) * q->ow;
}

/* Shape/attribute checks and output shape for x (in[xi]) and w (in[wi]);
 * w_zp_i: input index of the weight zero point (or -1). Packs the weights
 * when w (and its zp) are constant. Sets *scratch to the bytes needed. */
int tq_qconv_prepare(tq_op_ctx *c, tq_qconv *q, int xi, int wi, int w_zp_i, size_t *scratch,
                     int64_t *out_dims);
/* Pack non-constant weights into wbuf (cout * k2 int16) at eval. */
int tq_qconv_pack_weights(tq_op_ctx *c, tq_qconv *q, int wi, int w_zp_i, int16_t *wbuf);
void tq_qconv_release(tq_qconv *q);

/* The case of the one-pass 3x3 depthwise kernels (kernels/dynq_dw.h,
 * kernels/qlinear_dw.h): one input channel per group, depthwise or a
 * group-1 conv of a 1-channel input (every output channel a depthwise conv
 * of that plane), constant packed weights, and a plane geometry the 3x3
 * kernels take (tq_dw3x3_shape). Then *g gets that geometry and *taps the weights as
 * float (w - w_zp), 9 per output channel (free it); else *taps stays NULL.
 * Returns TQ_OK or a failure through c (out of memory). */
int tq_qconv_dw3x3(tq_op_ctx *c, const tq_qconv *q, tq_conv2d_geom *g, float **taps);

/* Called after output channels [c0, c0+nc) of pixels [p0, p0+np) of image n
 * are computed: acc points at (c0, p0); channel stride ld. */
typedef void (*tq_qconv_epilogue)(void *user, int64_t n, int64_t c0, int64_t nc, int64_t p0,
                                  int64_t np, int32_t *acc, size_t ld);

/* Run the convolution of x (u8/s8 NCHW) with zero point x_zp. out_i32: where
 * accumulators go (NCHW int32, may alias a float output of the same size);
 * NULL = a per-block scratch area (ld = block stride) for 8-bit outputs.
 * row_init: per-output-channel int32 start values (folded bias) or NULL. */
void tq_qconv_run(const tq_qconv *q, const tq_qdsp *d, const int16_t *wpack, const void *x,
                  int x_zp, const int32_t *row_init, int32_t *out_i32, void *scratch,
                  tq_qconv_epilogue epi, void *user);



/* Where tq_qconv_run expects eval-time packed weights inside the scratch. */
static inline int16_t *tq_qconv_wbuf(const tq_qconv *q, void *scratch)
{
    return (int16_t *)(void *)((char *)scratch + q->cols_bytes +
                               (size_t)q->cout_g * q->ldb * sizeof(int32_t));
}

#endif
