/* The dynamic-int8 depthwise conv as one pass per channel (tinyq.DynQConv
 * with one channel per group): the float input is quantised like
 * DynamicQuantizeLinear (scale, zero point given) straight into zero-padded
 * rows of (q - zp), the 3x3 taps are summed exactly (ConvInteger), and the
 * epilogue repeats Cast -> Mul -> [Add bias] -> [Relu | Clip] in float with
 * the same roundings, so the result is bit-identical to the unfused chain.
 * It also folds the output's min / max (NaNs ignored) into *mn / *mx for
 * the next layer's quantisation. One input channel may feed several output
 * channels (a group-1 conv of a 1-channel input: each output channel is a
 * depthwise conv of the same plane), so its rows are quantised once. */
#ifndef TQ_KERNELS_DYNQ_DW_H
#define TQ_KERNELS_DYNQ_DW_H

#include <stdbool.h>

#include "kernels/conv.h"
#include "kernels/qgemm.h"

typedef struct tq_dynq_dw_args {
    float scale; /* input quantisation: q = clamp(rint(x / scale) + zp, 0, 255) */
    int zp;
    tq_qact act;
    int nout;    /* output channels fed by this input channel (1 = depthwise) */
    /* per output channel (nout entries): */
    const float *w;     /* 9 taps (ky, kx) each: weight - weight zero point */
    const float *sprod; /* x_scale * w_scale (the Mul operand) */
    const float *bias;  /* NULL = no bias */
} tq_dynq_dw_args;

/* One input channel x (ih x iw floats) -> nout output planes of oh x ow
 * floats, plane o at out + o * out_stride. */
typedef void (*tq_dynq_dw_fn)(const tq_conv2d_geom *g, const float *x,
                              const tq_dynq_dw_args *a, float *out, size_t out_stride, float *mn,
                              float *mx);

/* The kernels take the shapes of tq_dw3x3_shape (kernels/conv.h); the
 * best one for this CPU (tq_cpu_flags). */
tq_dynq_dw_fn tq_dynq_dw_get(void);

void tq_dynq_dw_c(const tq_conv2d_geom *g, const float *x, const tq_dynq_dw_args *a, float *out,
                  size_t out_stride, float *mn, float *mx);
#if defined(TQ_HAVE_AVX2)
void tq_dynq_dw_avx2(const tq_conv2d_geom *g, const float *x, const tq_dynq_dw_args *a,
                     float *out, size_t out_stride, float *mn, float *mx);
#endif

#endif
