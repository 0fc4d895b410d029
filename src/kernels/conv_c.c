/* C parts of the conv building blocks (conv.h): im2col packing, the depthwise
 * reference and the kernel table. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/cpu.h"
#include "kernels/sgemm.h"

void tq_conv_dsp_init(tq_conv_dsp *dsp, unsigned cpu_flags)
{
    dsp->dwconv = tq_dwconv_c;
    dsp->dwconv_multi = tq_dwconv_multi_c;
    dsp->phase_pack = tq_conv_phase_pack_c;
    dsp->phase_fill = tq_conv_phase_fill_c;
    dsp->rows = tq_conv_rows_c;
#if defined(TQ_HAVE_AVX2)
    if (cpu_flags & TQ_CPU_FLAG_AVX2) {
        dsp->dwconv = tq_dwconv_avx2;
        dsp->dwconv_multi = tq_dwconv_multi_avx2;
        dsp->phase_pack = tq_conv_phase_pack_avx2;
        dsp->phase_fill = tq_conv_phase_fill_avx2;
        dsp->rows = tq_conv_rows_avx2;
    }
#else
    (void)cpu_flags;
#endif
}

const tq_conv_dsp *tq_conv_dsp_get(void)
{
    static tq_conv_dsp dsp;
    static volatile int ready;
    if (!ready) {
        tq_conv_dsp_init(&dsp, tq_cpu_flags());
        ready = 1;
    }
    return &dsp;
}

/* Copy one run of output pixels (same output row, columns ox0..ox0+len) for
 * tap (ci, ky, kx) into dst; the run is where the per-element work is only a
 * strided copy, so the bounds logic is paid once per run, not per element. */
static void pack_run(const tq_conv2d_geom *g, const float *plane, int64_t oy, int64_t ox0,
                     int len, int ky, int kx, float *dst)
{
    int64_t iy = oy * g->sh - g->pt + (int64_t)ky * g->dh;
    if (iy < 0 || iy >= g->ih) {
        memset(dst, 0, (size_t)len * sizeof(float));
        return;
    }
    const float *row = plane + iy * g->iw;
    int64_t ix = ox0 * g->sw - g->pl + (int64_t)kx * g->dw;
    int j = 0;
    for (; j < len && ix < 0; j++, ix += g->sw)
        dst[j] = 0.0f;
    if (g->sw == 1) {
        int64_t avail = g->iw - ix;
        int n = avail < 0 ? 0 : (avail < len - j ? (int)avail : len - j);
        if (n > 0)
            memcpy(dst + j, row + ix, (size_t)n * sizeof(float));
        j += n;
    } else {
        for (; j < len && ix < g->iw; j++, ix += g->sw)
            dst[j] = row[ix];
    }
    for (; j < len; j++)
        dst[j] = 0.0f;
}

void tq_im2col_pack(const tq_conv2d_geom *g, const float *in, int64_t col0, int64_t ncols,
                    float *packed)
{
    int64_t kk_total = g->c * g->kh * g->kw;
    for (int64_t p0 = 0; p0 < ncols; p0 += TQ_SGEMM_NR) {
        int nr = (int)(ncols - p0 < TQ_SGEMM_NR ? ncols - p0 : TQ_SGEMM_NR);
        /* split the panel's pixels into runs within one output row */
        int64_t run_oy[TQ_SGEMM_NR], run_ox[TQ_SGEMM_NR];
        int run_len[TQ_SGEMM_NR], run_off[TQ_SGEMM_NR], nruns = 0;
        for (int j = 0; j < nr;) {
            int64_t pix = col0 + p0 + j;
            int64_t oy = pix / g->ow, ox = pix % g->ow;
            int len = (int)(g->ow - ox < nr - j ? g->ow - ox : nr - j);
            run_oy[nruns] = oy;
            run_ox[nruns] = ox;
            run_len[nruns] = len;
            run_off[nruns] = j;
            nruns++;
            j += len;
        }
        float *dst = packed;
        for (int64_t ci = 0; ci < g->c; ci++) {
            const float *plane = in + ci * g->ih * g->iw;
            for (int ky = 0; ky < g->kh; ky++)
                for (int kx = 0; kx < g->kw; kx++) {
                    for (int r = 0; r < nruns; r++)
                        pack_run(g, plane, run_oy[r], run_ox[r], run_len[r], ky, kx,
                                 dst + run_off[r]);
                    for (int j = nr; j < TQ_SGEMM_NR; j++)
                        dst[j] = 0.0f;
                    dst += TQ_SGEMM_NR;
                }
        }
        packed += kk_total * TQ_SGEMM_NR;
    }
}

void tq_conv_phase_init(const tq_conv2d_geom *g, tq_conv_phase *ph)
{
    ph->qh = g->oh + (int64_t)(g->kh - 1) * g->dh / g->sh;
    ph->qw = g->ow + (int64_t)(g->kw - 1) * g->dw / g->sw;
    ph->ld = ph->qw;
    ph->plane = ph->qh * ph->ld;
    ph->cols = (g->oh - 1) * ph->ld + g->ow;
}

bool tq_conv_strip_init(const tq_conv2d_geom *g, int64_t images, tq_conv_strip *st)
{
    tq_conv_phase one;
    tq_conv_phase_init(g, &one);
    /* padded x of image i's pixel x is i*W + pl + x with W = slot*sw. Image
     * i's outputs read padded x in [i*W, i*W + (ow-1)*sw + (kw-1)*dw]: that
     * must end before image i+1's first pixel, and image i-1's last pixel
     * must end before i*W. */
    int64_t reach = (g->ow - 1) * g->sw + (int64_t)(g->kw - 1) * g->dw;
    int64_t w = g->pl + g->iw;
    if (w < reach - g->pl + 1)
        w = reach - g->pl + 1;
    w = (w + g->sw - 1) / g->sw * g->sw;
    st->images = images;
    st->slot = w / g->sw;
    /* the windows must tile the strip without gaps */
    if (images < 1 || one.qw < st->slot || g->ow > st->slot)
        return false;
    st->img = one;
    /* Rows follow each other like images: the last window of a row may
     * overlap the next row's start if that is padding in every used phase
     * (image 0 of the next row was packed before). Otherwise rows are
     * spaced by the whole last window. The plane ends with that window's
     * tail. */
    int64_t tail = one.qw - st->slot;
    bool tail_is_pad = true;
    for (int px = 0; px < g->sw; px++)
        if (tail > 0 && tq_conv_phase_used(g->kw, g->dw, g->sw, px) &&
            (tail - 1) * g->sw + px >= g->pl)
            tail_is_pad = false;
    st->img.ld = images * st->slot + (tail_is_pad ? 0 : tail);
    st->img.plane = st->img.qh * st->img.ld + tail;
    st->img.cols = tq_conv_strip_cols(g, st, images);
    return true;
}

int64_t tq_conv_strip_cols(const tq_conv2d_geom *g, const tq_conv_strip *st, int64_t n)
{
    return (g->oh - 1) * st->img.ld + (n - 1) * st->slot + g->ow;
}

size_t tq_conv_phase_floats(const tq_conv2d_geom *g, const tq_conv_phase *ph)
{
    return (size_t)(g->c * g->sh * g->sw * ph->plane);
}

void tq_conv_phase_offsets(const tq_conv2d_geom *g, const tq_conv_phase *ph, ptrdiff_t *offs)
{
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                int64_t ry = (int64_t)ky * g->dh, rx = (int64_t)kx * g->dw;
                int64_t phase = (ci * g->sh + ry % g->sh) * g->sw + rx % g->sw;
                *offs++ = (ptrdiff_t)(phase * ph->plane + (ry / g->sh) * ph->ld + rx / g->sw);
            }
}

bool tq_conv_phase_used(int k, int d, int stride, int p)
{
    for (int t = 0; t < k; t++)
        if ((int64_t)t * d % stride == p)
            return true;
    return false;
}

void tq_conv_phase_cols(const tq_conv2d_geom *g, const tq_conv_phase *ph, int px, int64_t *x0,
                        int64_t *x1)
{
    /* valid x range: 0 <= x*sw + px - pl < iw */
    int64_t a = g->pl - px > 0 ? (g->pl - px + g->sw - 1) / g->sw : 0;
    int64_t b = g->iw + g->pl - px > 0 ? (g->iw + g->pl - px + g->sw - 1) / g->sw : 0;
    if (b > ph->qw)
        b = ph->qw;
    if (a > b)
        a = b;
    *x0 = a;
    *x1 = b;
}

void tq_conv_phase_pack(const tq_conv2d_geom *g, const tq_conv_phase *ph, const float *in,
                        float *planes)
{
    tq_conv_dsp_get()->phase_pack(g, ph, in, planes);
}

/* pad: also write the padding zeros (pack) or leave them (fill) */
static void phase_copy_c(const tq_conv2d_geom *g, const tq_conv_phase *ph, const float *in,
                         float *planes, bool pad)
{
    const int64_t qw = ph->qw;
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int py = 0; py < g->sh; py++)
            for (int px = 0; px < g->sw; px++) {
                if (!tq_conv_phase_used(g->kh, g->dh, g->sh, py) ||
                    !tq_conv_phase_used(g->kw, g->dw, g->sw, px))
                    continue;
                const float *src = in + ci * g->ih * g->iw;
                float *dst = planes + ((ci * g->sh + py) * g->sw + px) * ph->plane;
                int64_t x0, x1;
                tq_conv_phase_cols(g, ph, px, &x0, &x1);
                for (int64_t y = 0; y < ph->qh; y++, dst += ph->ld) {
                    int64_t iy = y * g->sh + py - g->pt;
                    if (iy < 0 || iy >= g->ih || x0 == x1) {
                        for (int64_t x = 0; pad && x < qw; x++)
                            dst[x] = 0.0f;
                        continue;
                    }
                    const float *row = src + iy * g->iw + x0 * g->sw + px - g->pl;
                    for (int64_t x = 0; pad && x < x0; x++)
                        dst[x] = 0.0f;
                    for (int64_t x = x0; x < x1; x++)
                        dst[x] = row[(x - x0) * g->sw];
                    for (int64_t x = x1; pad && x < qw; x++)
                        dst[x] = 0.0f;
                }
            }
}

void tq_conv_phase_pack_c(const tq_conv2d_geom *g, const tq_conv_phase *ph, const float *in,
                          float *planes)
{
    phase_copy_c(g, ph, in, planes, true);
}

void tq_conv_phase_fill_c(const tq_conv2d_geom *g, const tq_conv_phase *ph, const float *in,
                          float *planes)
{
    phase_copy_c(g, ph, in, planes, false);
}

void tq_conv_rows_c(const float *tmp, int64_t qw, float *y, const float *z, int64_t rows,
                    int64_t ow, bool clamp, float lo, float hi)
{
    for (int64_t r = 0; r < rows; r++) {
        float *d = y + r * ow;
        const float *s = tmp + r * qw;
        const float *zr = z ? z + r * ow : NULL;
        for (int64_t x = 0; x < ow; x++) {
            float v = s[x];
            if (zr)
                v += zr[x];
            if (clamp) /* the GEMM epilogue's order: NaN stays NaN */
                v = v < lo ? lo : (v > hi ? hi : v);
            d[x] = v;
        }
    }
}

void tq_dwconv_c(const tq_conv2d_geom *g, const float *in, const float *w, float bias,
                 float *out, bool clamp, float lo, float hi)
{
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++) {
            float acc = 0.0f;
            for (int ky = 0; ky < g->kh; ky++) {
                int64_t iy = oy * g->sh - g->pt + (int64_t)ky * g->dh;
                if (iy < 0 || iy >= g->ih)
                    continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int64_t ix = ox * g->sw - g->pl + (int64_t)kx * g->dw;
                    if (ix >= 0 && ix < g->iw)
                        acc += w[ky * g->kw + kx] * in[iy * g->iw + ix];
                }
            }
            float v = acc + bias;
            if (clamp)
                v = v < lo ? lo : (v > hi ? hi : v);
            out[oy * g->ow + ox] = v;
        }
}

void tq_dwconv_multi_c(const tq_conv2d_geom *g, const float *in, int nout, const float *w,
                       const float *bias, float *out, size_t out_stride, bool clamp, float lo,
                       float hi)
{
    for (int o = 0; o < nout; o++)
        tq_dwconv_c(g, in, w + (int64_t)o * g->kh * g->kw, bias ? bias[o] : 0.0f,
                    out + (size_t)o * out_stride, clamp, lo, hi);
}

bool tq_dw3x3_shape(const tq_conv2d_geom *g)
{
    return g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sh == g->sw &&
           (g->sw == 1 || g->sw == 2) && g->pt >= 0 && g->pl >= 0 && g->ow >= 1 && g->oh >= 1;
}

bool tq_dwconv_multi_fast(const tq_conv_dsp *dsp, const tq_conv2d_geom *g)
{
    return dsp->dwconv_multi != tq_dwconv_multi_c && tq_dw3x3_shape(g) && g->ow <= 1024;
}
