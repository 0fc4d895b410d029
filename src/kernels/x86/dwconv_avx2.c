/* AVX2+FMA depthwise conv (conv.h tq_dwconv_fn): 3x3, dilation 1, stride 1
 * or 2, any padding. Every input row an output row reads is first
 * copied once into a zero-padded row buffer (split into even / odd columns
 * for stride 2), so each output row is nine unit-stride multiply-adds over
 * whole vectors with no border cases; rows above / below the image read a
 * zero row. Up to eight independent accumulators per row hide the FMA
 * latency (a single chain per vector made the old kernel latency-bound).
 * Taps are summed in (ky, kx) order from 0 and the bias added last, like the
 * C reference; an out-of-image tap adds w * 0, which changes nothing for
 * finite weights. Other shapes, or rows wider than the buffers, go to C. */
#include <immintrin.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/x86/avx2_lanes.h"
#include "kernels/x86/dw_taps_avx2.h"

/* phase p column j = padded column j*s + p = input column j*s + p - pl, 0
 * outside the image; the whole row [0, len) is written in vectors (the
 * buffers have slack), so there are no scalar edges. */
static void fill_row(const tq_conv2d_geom *g, const float *row, int64_t len, float *ph0,
                     float *ph1)
{
    if (g->sw == 1) {
        for (int64_t j = 0; j < len; j += 8)
            _mm256_storeu_ps(ph0 + j, tq_dw_load_cols(row, j - g->pl, g->iw));
        return;
    }
    for (int64_t j = 0; j < len; j += 8) {
        int64_t c = 2 * j - g->pl;
        __m256 a = tq_dw_load_cols(row, c, g->iw), b = tq_dw_load_cols(row, c + 8, g->iw);
        __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
        o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
        _mm256_storeu_ps(ph0 + j, e);
        _mm256_storeu_ps(ph1 + j, o);
    }
}

/* The buffer (phase 0) of padded row pr, filling a slot if needed. */
static const float *row_of(const tq_conv2d_geom *g, const float *in, tq_dw_rows *r,
                           int64_t pr, int64_t len)
{
    int64_t iy = pr - g->pt;
    if (iy < 0 || iy >= g->ih)
        return r->zero[0];
    int slot = (int)(iy & (TQ_DW_SLOTS - 1));
    if (r->tag[slot] != iy) {
        fill_row(g, in + iy * g->iw, len, r->buf[slot][0], r->buf[slot][1]);
        r->tag[slot] = iy;
    }
    return r->buf[slot][0];
}

static inline __attribute__((always_inline)) __m256 finish(__m256 a, __m256 vb, bool clamp,
                                                           __m256 vlo, __m256 vhi)
{
    a = _mm256_add_ps(a, vb);
    /* operand order keeps NaN, like the C reference */
    return clamp ? _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)) : a;
}

typedef struct dw_out {
    __m256 vb, vlo, vhi;
    __m256i tail; /* lanes of the row's last vector inside the row */
    int64_t ow;
    bool clamp;
} dw_out;

/* Vector v of an output row: bias, clamp, store (masked for the row's last
 * partial vector). */
static inline __attribute__((always_inline)) void emit(const dw_out *d, __m256 acc, float *orow,
                                                       int64_t v)
{
    __m256 y = finish(acc, d->vb, d->clamp, d->vlo, d->vhi);
    if (v * 8 + 8 <= d->ow)
        _mm256_storeu_ps(orow + v * 8, y);
    else
        _mm256_maskstore_ps(orow + v * 8, d->tail, y);
}

static inline __attribute__((always_inline)) void
emit_pair(const dw_out *d, const __m256 *a0, const __m256 *a1, float *orow, int64_t v, int nv)
{
#pragma GCC unroll 4
    for (int k = 0; k < nv; k++) {
        emit(d, a0[k], orow, v + k);
        emit(d, a1[k], orow + d->ow, v + k);
    }
}

static bool dw_fits(const tq_conv2d_geom *g)
{
    return g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sh >= 1 && g->sh <= 2 &&
           g->sw == g->sh && g->ow <= TQ_DW_MAX_OW && g->ow >= 1 && g->oh >= 1 && g->pl >= 0 &&
           g->pt >= 0 && g->iw <= INT32_MAX / 2;
}

/* nout output planes of one input plane (plane o at out + o * out_stride):
 * the input rows are copied once for all of them. */
static void dw_run(const tq_conv2d_geom *g, const float *in, int nout, const float *w,
                   const float *bias, float *out, size_t out_stride, bool clamp, float lo,
                   float hi)
{
    static _Thread_local tq_dw_rows rows; /* 70 KB: too big for some thread stacks */
    tq_dw_rows *r = &rows;
    const int s = g->sw;
    const int64_t vecs = (g->ow + 7) / 8;
    /* phase columns read: up to vecs*8 - 1 + (s == 1 ? 2 : 1) */
    const int64_t len = vecs * 8 + 2;
    tq_dw_rows_reset(r, len);
    __m256 wv[9];
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);

    const __m256i tail = tq_lane_mask(g->ow - (vecs - 1) * 8);
    dw_out d = { _mm256_setzero_ps(), vlo, vhi, tail, g->ow, clamp };

    /* two output rows per pass share the input rows between them (4 rows
     * for stride 1, 5 for stride 2 instead of 6), so fewer loads per FMA */
    for (int64_t oy = 0; oy < g->oh; oy += 2) {
        const bool pair = oy + 1 < g->oh;
        const float *rp[5];
        for (int i = 0; i < (pair ? 3 + s : 3); i++)
            rp[i] = row_of(g, in, r, oy * s + i, len);
        for (int o = 0; o < nout; o++) {
            for (int t = 0; t < 9; t++)
                wv[t] = _mm256_set1_ps(w[9 * o + t]);
            d.vb = _mm256_set1_ps(bias ? bias[o] : 0.0f);
            float *orow = out + (size_t)o * out_stride + oy * g->ow;
            TQ_DW_CHANNEL_ROWS(&d, rp, s, pair, wv, _mm256_setzero_ps(), vecs, orow);
        }
    }
}

void tq_dwconv_avx2(const tq_conv2d_geom *g, const float *in, const float *w, float bias,
                    float *out, bool clamp, float lo, float hi)
{
    if (!dw_fits(g)) {
        tq_dwconv_c(g, in, w, bias, out, clamp, lo, hi);
        return;
    }
    dw_run(g, in, 1, w, &bias, out, 0, clamp, lo, hi);
}

void tq_dwconv_multi_avx2(const tq_conv2d_geom *g, const float *in, int nout, const float *w,
                          const float *bias, float *out, size_t out_stride, bool clamp, float lo,
                          float hi)
{
    if (!dw_fits(g)) {
        tq_dwconv_multi_c(g, in, nout, w, bias, out, out_stride, clamp, lo, hi);
        return;
    }
    dw_run(g, in, nout, w, bias, out, out_stride, clamp, lo, hi);
}
