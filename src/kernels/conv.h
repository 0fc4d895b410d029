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

/* Indirect conv: the zero-padded input is split into stride phases
 * (plane (ci, py, px) holds padded pixels (y*sh + py, x*sw + px)), so every
 * tap (ci, ky, kx) of every output (oy, ox) is phase[oy + dy][ox + dx]: a
 * GEMM row at a fixed offset. Output pixel (oy, ox) is GEMM column
 * oy*qw + ox; columns with ox >= ow are junk the caller drops (or none when
 * qw == ow). For stride 1 this is just the padded input. */
typedef struct tq_conv_phase {
    int64_t qh, qw;   /* phase plane size */
    int64_t ld;       /* row stride of a plane (qw, or more when several images
                       * share a plane side by side: tq_conv_strip) */
    int64_t plane;    /* plane stride: qh * ld */
    int64_t cols;     /* GEMM columns: (oh - 1) * ld + ow */
} tq_conv_phase;

void tq_conv_phase_init(const tq_conv2d_geom *g, tq_conv_phase *ph);
/* Several images side by side in one set of phase planes, so a batched conv
 * is one GEMM with many columns per strip of images (full register tiles,
 * packing amortised) instead of a small GEMM per image. Image i of a strip
 * occupies phase columns [i*slot, i*slot + qw) of every plane row (row
 * stride ld = images*slot); images are packed left to right and each window
 * overlaps the next image's (or the next row's) left padding, which only
 * ever holds zeros. slot is the tightest spacing that keeps every tap of an
 * image's outputs out of its neighbours' pixels (tq_conv_strip_init checks),
 * so even one image has fewer junk columns than tq_conv_phase_init's
 * (ow + 1 instead of ow + 2 per row for a 3x3 pad 1 stride 1 conv).
 * Output pixel (oy, ox) of image i is GEMM column oy*ld + i*slot + ox. */
typedef struct tq_conv_strip {
    int64_t images;   /* per strip */
    int64_t slot;     /* phase columns between neighbouring images */
    tq_conv_phase img; /* one image's window: qw of one image, ld/plane of the strip */
} tq_conv_strip;

/* Set up a strip of up to `images` images; false if the geometry does not
 * allow sharing planes (then convolve image by image). */
bool tq_conv_strip_init(const tq_conv2d_geom *g, int64_t images, tq_conv_strip *st);
/* GEMM columns of a strip holding n (<= images) images. */
int64_t tq_conv_strip_cols(const tq_conv2d_geom *g, const tq_conv_strip *st, int64_t n);

/* Floats of the phase planes of one group: c * sh * sw * plane. */
size_t tq_conv_phase_floats(const tq_conv2d_geom *g, const tq_conv_phase *ph);
/* The K = c*kh*kw row offsets, in weight order (ci, ky, kx). */
void tq_conv_phase_offsets(const tq_conv2d_geom *g, const tq_conv_phase *ph, ptrdiff_t *offs);
/* Fill the phase planes from one group's input (dispatching to the best
 * kernel; tq_conv_dsp.phase_pack). */
void tq_conv_phase_pack(const tq_conv2d_geom *g, const tq_conv_phase *ph, const float *in,
                        float *planes);
/* The x range [x0, x1) of phase column px whose pixels are inside the image
 * (the rest of a plane row is zero padding). */
void tq_conv_phase_cols(const tq_conv2d_geom *g, const tq_conv_phase *ph, int px, int64_t *x0,
                        int64_t *x1);
/* Does any tap k*d land on phase p (mod the stride)? Unused phases are not
 * filled (a strided 1x1 conv reads only phase (0, 0)). */
bool tq_conv_phase_used(int k, int d, int stride, int p);

/* One channel of a depthwise conv: out[oh][ow] = clamp(bias + sum w * in). */
typedef void (*tq_dwconv_fn)(const tq_conv2d_geom *g, const float *in, const float *w,
                             float bias, float *out, bool clamp, float lo, float hi);

/* Several output channels of one input plane (a group with one input
 * channel and nout outputs, e.g. the stem conv of a grey image): plane o =
 * tq_dwconv_fn's result with weights w + o*kh*kw and bias[o] (bias NULL =
 * 0), at out + o * out_stride. The input rows are prepared once for all. */
typedef void (*tq_dwconv_multi_fn)(const tq_conv2d_geom *g, const float *in, int nout,
                                   const float *w, const float *bias, float *out,
                                   size_t out_stride, bool clamp, float lo, float hi);

/* Copy the phase planes of one group (tq_conv_phase_pack's contract). */
typedef void (*tq_phase_pack_fn)(const tq_conv2d_geom *g, const tq_conv_phase *ph,
                                 const float *in, float *planes);

/* Like tq_phase_pack_fn but writes only the image's pixels: the padding of
 * the planes must already be zero (planes an op owns and zeroed once; no
 * pixel position of any window is a padding position of another, so strips
 * keep their padding too). */
typedef tq_phase_pack_fn tq_phase_fill_fn;

/* Drop the junk columns of an indirect conv's GEMM output (row stride qw)
 * into Y (row stride ow): y[r][x] = clamp(tmp[r][x] + z[r][x]), z optional
 * (a fused residual, laid out like y), clamp only when asked. */
typedef void (*tq_conv_rows_fn)(const float *tmp, int64_t qw, float *y, const float *z,
                                int64_t rows, int64_t ow, bool clamp, float lo, float hi);

typedef struct tq_conv_dsp {
    tq_dwconv_fn dwconv;
    tq_dwconv_multi_fn dwconv_multi;
    tq_phase_pack_fn phase_pack;
    tq_phase_fill_fn phase_fill;
    tq_conv_rows_fn rows;
} tq_conv_dsp;

void tq_conv_dsp_init(tq_conv_dsp *dsp, unsigned cpu_flags);
const tq_conv_dsp *tq_conv_dsp_get(void);

void tq_dwconv_c(const tq_conv2d_geom *g, const float *in, const float *w, float bias,
                 float *out, bool clamp, float lo, float hi);
void tq_dwconv_multi_c(const tq_conv2d_geom *g, const float *in, int nout, const float *w,
                       const float *bias, float *out, size_t out_stride, bool clamp, float lo,
                       float hi);
/* Is dsp's dwconv_multi a vector kernel for this shape (3x3, dilation 1,
 * stride 1 or 2, rows up to 1024 wide)? Otherwise a GEMM does better. */
bool tq_dwconv_multi_fast(const tq_conv_dsp *dsp, const tq_conv2d_geom *g);
/* The shapes the 3x3 depthwise row kernels take (fp32, dynamic and static
 * int8): 3x3, dilation 1, the same stride 1 or 2 both ways, no negative
 * padding, a non-empty output. */
bool tq_dw3x3_shape(const tq_conv2d_geom *g);
void tq_conv_phase_pack_c(const tq_conv2d_geom *g, const tq_conv_phase *ph, const float *in,
                          float *planes);
void tq_conv_phase_fill_c(const tq_conv2d_geom *g, const tq_conv_phase *ph, const float *in,
                          float *planes);
void tq_conv_rows_c(const float *tmp, int64_t qw, float *y, const float *z, int64_t rows,
                    int64_t ow, bool clamp, float lo, float hi);
#if defined(TQ_HAVE_AVX2)
void tq_conv_phase_pack_avx2(const tq_conv2d_geom *g, const tq_conv_phase *ph,
                             const float *in, float *planes);
void tq_conv_phase_fill_avx2(const tq_conv2d_geom *g, const tq_conv_phase *ph,
                             const float *in, float *planes);
void tq_conv_rows_avx2(const float *tmp, int64_t qw, float *y, const float *z, int64_t rows,
                       int64_t ow, bool clamp, float lo, float hi);
/* 3x3, dilation 1, stride 1 or 2 in the interior; defers to C otherwise. */
void tq_dwconv_avx2(const tq_conv2d_geom *g, const float *in, const float *w, float bias,
                    float *out, bool clamp, float lo, float hi);
void tq_dwconv_multi_avx2(const tq_conv2d_geom *g, const float *in, int nout, const float *w,
                          const float *bias, float *out, size_t out_stride, bool clamp, float lo,
                          float hi);
#endif

#endif
