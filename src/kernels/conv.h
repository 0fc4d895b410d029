/* fp32 2-D convolution building blocks (NCHW, one image, one group):
 * im2col straight into sgemm packed-B panels (so a general conv is one
 * packed GEMM per column block), and a direct depthwise kernel.
 * A 1-D conv is a 2-D conv with ih = oh = kh = 1. */
#ifndef TQ_KERNELS_CONV_H
#define TQ_KERNELS_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tq_conv2d_geom {
    int64_t c;               /* input channels of the group */
    int64_t ih, iw, oh, ow;
    int kh, kw;
    int sh, sw;              /* strides */
    int dh, dw;              /* dilations */
    int pt, pl;              /* top / left padding (bottom/right follow from oh/ow) */
} tq_conv2d_geom;

/* Pack im2col columns [col0, col0 + ncols) (output pixels oy*ow + ox) of the
 * K = c*kh*kw row matrix into sgemm panels (sgemm.h layout for k = K,
 * n = ncols). Out-of-image taps read as 0. */
void tq_im2col_pack(const tq_conv2d_geom *g, const float *in, int64_t col0, int64_t ncols,
                    float *packed);

/* One channel of a depthwise conv: out[oh][ow] = clamp(bias + sum w * in). */
typedef void (*tq_dwconv_fn)(const tq_conv2d_geom *g, const float *in, const float *w,
                             float bias, float *out, bool clamp, float lo, float hi);

typedef struct tq_conv_dsp {
    tq_dwconv_fn dwconv;
} tq_conv_dsp;

void tq_conv_dsp_init(tq_conv_dsp *dsp, unsigned cpu_flags);
const tq_conv_dsp *tq_conv_dsp_get(void);

void tq_dwconv_c(const tq_conv2d_geom *g, const float *in, const float *w, float bias,
                 float *out, bool clamp, float lo, float hi);
#if defined(TQ_HAVE_AVX2)
/* 3x3, dilation 1, stride 1 or 2 in the interior; defers to C otherwise. */
void tq_dwconv_avx2(const tq_conv2d_geom *g, const float *in, const float *w, float bias,
                    float *out, bool clamp, float lo, float hi);
#endif

#endif
