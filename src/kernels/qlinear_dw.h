/* The static int8 depthwise conv (QLinearConv with one input channel per
 * group, 3x3, stride 1 or 2) as one pass per channel: the 8-bit input rows
 * become (q - x_zp) in float once, the nine taps are summed exactly (the
 * integers stay below 2^24: the caller checks the bound), the int32 bias is
 * added and the sum is requantised as QLinearConv and ONNX Runtime do it
 * (kernels/qgemm.h tq_requant_c: sat(rint(acc * mult) + y_zp)). So the output
 * bytes equal the integer reference's. One input channel may feed several
 * output channels (a group-1 conv of a 1-channel input), its rows converted
 * once for all of them. */
#ifndef TQ_KERNELS_QLINEAR_DW_H
#define TQ_KERNELS_QLINEAR_DW_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/conv.h"

typedef struct tq_qlinear_dw_args {
    int x_zp;
    bool x_signed, y_signed;
    int y_zp;
    int nout;           /* output channels fed by this input channel */
    /* per output channel (nout entries): */
    const float *w;     /* 9 taps (ky, kx) each: weight - weight zero point */
    const float *bias;  /* the int32 bias as float (exact: |bias| < 2^24) */
    const float *mult;  /* x_scale * w_scale / y_scale */
} tq_qlinear_dw_args;

/* One input channel x (ih x iw bytes, uint8 or int8) -> nout output planes
 * of oh x ow bytes, plane o at out + o * out_stride. */
typedef void (*tq_qlinear_dw_fn)(const tq_conv2d_geom *g, const void *x,
                                 const tq_qlinear_dw_args *a, void *out, size_t out_stride);

/* The kernels take the shapes of tq_dw3x3_shape (kernels/conv.h); the
 * best one for this CPU (tq_cpu_flags). */
tq_qlinear_dw_fn tq_qlinear_dw_get(void);

void tq_qlinear_dw_c(const tq_conv2d_geom *g, const void *x, const tq_qlinear_dw_args *a,
                     void *out, size_t out_stride);
#if defined(TQ_HAVE_AVX2)
void tq_qlinear_dw_avx2(const tq_conv2d_geom *g, const void *x, const tq_qlinear_dw_args *a,
                        void *out, size_t out_stride);
#endif

#endif
