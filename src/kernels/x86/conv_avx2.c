/* AVX2+FMA depthwise conv (conv.h): 3x3, dilation 1, stride 1 or 2, eight
 * output columns per step in the interior of each row; borders and other
 * shapes use the scalar formula of the C reference. Taps are summed in the
 * same (ky, kx) order as the reference. */
#include <immintrin.h>

#include "kernels/conv.h"

static float dw_point(const tq_conv2d_geom *g, const float *in, const float *w, int64_t oy,
                      int64_t ox)
{
    float acc = 0.0f;
    for (int ky = 0; ky < 3; ky++) {
        int64_t iy = oy * g->sh - g->pt + ky;
        if (iy < 0 || iy >= g->ih)
            continue;
        for (int kx = 0; kx < 3; kx++) {
            int64_t ix = ox * g->sw - g->pl + kx;
            if (ix >= 0 && ix < g->iw)
                acc = __builtin_fmaf(w[ky * 3 + kx], in[iy * g->iw + ix], acc);
        }
    }
    return acc;
}

/* even / odd elements of p[0..15] */
static inline __m256 even8(__m256 lo, __m256 hi)
{
    __m256 s = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline __m256 odd8(__m256 lo, __m256 hi)
{
    __m256 s = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

void tq_dwconv_avx2(const tq_conv2d_geom *g, const float *in, const float *w, float bias,
                    float *out, bool clamp, float lo, float hi)
{
    if (g->kh != 3 || g->kw != 3 || g->dh != 1 || g->dw != 1 || g->sh < 1 || g->sh > 2 ||
        g->sw != g->sh) {
        tq_dwconv_c(g, in, w, bias, out, clamp, lo, hi);
        return;
    }
    const int s = g->sw;
    /* interior columns: every tap inside the row */
    int64_t x_lo = (g->pl + s - 1) / s;
    int64_t x_hi = g->iw - 3 + g->pl >= 0 ? (g->iw - 3 + g->pl) / s + 1 : 0;
    if (x_hi > g->ow)
        x_hi = g->ow;
    if (x_lo > x_hi)
        x_lo = x_hi;
    __m256 wv[9];
    for (int t = 0; t < 9; t++)
        wv[t] = _mm256_set1_ps(w[t]);
    const __m256 vb = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    const __m256i rot1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);

    for (int64_t oy = 0; oy < g->oh; oy++) {
        float *orow = out + oy * g->ow;
        int64_t ox = 0;
        for (; ox < x_lo; ox++) {
            float v = dw_point(g, in, w, oy, ox) + bias;
            orow[ox] = clamp ? (v < lo ? lo : (v > hi ? hi : v)) : v;
        }
        for (; ox + 8 <= x_hi; ox += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (int ky = 0; ky < 3; ky++) {
                int64_t iy = oy * g->sh - g->pt + ky;
                if (iy < 0 || iy >= g->ih)
                    continue;
                const float *p = in + iy * g->iw + ox * s - g->pl;
                __m256 x0, x1, x2;
                if (s == 1) {
                    x0 = _mm256_loadu_ps(p);
                    x1 = _mm256_loadu_ps(p + 1);
                    x2 = _mm256_loadu_ps(p + 2);
                } else {
                    /* p[0..16] are inside the row; p[17] may not be */
                    __m256 l = _mm256_loadu_ps(p), h = _mm256_loadu_ps(p + 8);
                    x0 = even8(l, h);
                    x1 = odd8(l, h);
                    x2 = _mm256_blend_ps(_mm256_permutevar8x32_ps(x0, rot1),
                                         _mm256_set1_ps(p[16]), 0x80);
                }
                acc = _mm256_fmadd_ps(wv[ky * 3 + 0], x0, acc);
                acc = _mm256_fmadd_ps(wv[ky * 3 + 1], x1, acc);
                acc = _mm256_fmadd_ps(wv[ky * 3 + 2], x2, acc);
            }
            acc = _mm256_add_ps(acc, vb);
            if (clamp)
                acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
            _mm256_storeu_ps(orow + ox, acc);
        }
        for (; ox < g->ow; ox++) {
            float v = dw_point(g, in, w, oy, ox) + bias;
            orow[ox] = clamp ? (v < lo ? lo : (v > hi ? hi : v)) : v;
        }
    }
}
