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

#define DW_MAX_OW 1024                 /* widest output row handled here */
#define DW_PHASE (DW_MAX_OW + 72)      /* floats per phase: ow rounded to 64 + 8 */
#define DW_SLOTS 4                     /* row buffers (a power of 2): 3 live rows + 1 */

typedef struct dw_rows {
    float buf[DW_SLOTS][2][DW_PHASE]; /* [slot][phase][column] */
    float zero[2][DW_PHASE];
    int64_t tag[DW_SLOTS];            /* input row held by each slot, -1 none */
} dw_rows;

/* Where each phase's columns are inside the image: [lo, hi), and the end of
 * the vectorised part of a stride-2 copy (which reads 16 floats per 8). */
typedef struct dw_span {
    int64_t lo[2], hi[2], vec_end[2];
} dw_span;

/* phase p column j = padded column j*s + p = input column j*s + p - pl */
static void plan_span(const tq_conv2d_geom *g, int64_t len, dw_span *sp)
{
    const int s = g->sw;
    for (int p = 0; p < s; p++) {
        int64_t first = g->pl - p;
        int64_t lo = first > 0 ? (first + s - 1) / s : 0;
        int64_t last = g->iw - 1 + g->pl - p;
        int64_t hi = last >= 0 ? last / s + 1 : 0;
        hi = hi > len ? len : hi;
        lo = lo > hi ? hi : lo;
        int64_t j = lo, base = lo * s + p - g->pl;
        /* the loads of 8 outputs from j read input columns up to
         * base + 2(j - lo) + 15, which must be < iw */
        while (j + 8 <= hi && base + 2 * (j - lo) + 15 < g->iw)
            j += 8;
        sp->lo[p] = lo;
        sp->hi[p] = hi;
        sp->vec_end[p] = j;
    }
}

static void fill_row(const tq_conv2d_geom *g, const dw_span *sp, const float *row, int64_t len,
                     float *ph0, float *ph1)
{
    const int s = g->sw;
    for (int p = 0; p < s; p++) {
        float *d = p ? ph1 : ph0;
        const int64_t lo = sp->lo[p], hi = sp->hi[p];
        for (int64_t j = 0; j < lo; j++)
            d[j] = 0.0f;
        const float *src = row + lo * s + p - g->pl;
        if (s == 1) {
            memcpy(d + lo, src, sizeof(float) * (size_t)(hi - lo));
        } else {
            int64_t j = lo;
            for (; j < sp->vec_end[p]; j += 8) {
                const float *q = src + 2 * (j - lo);
                __m256 a = _mm256_loadu_ps(q), b = _mm256_loadu_ps(q + 8);
                __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
                e = _mm256_castpd_ps(
                    _mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
                _mm256_storeu_ps(d + j, e);
            }
            for (; j < hi; j++)
                d[j] = src[2 * (j - lo)];
        }
        for (int64_t j = hi; j < len; j++)
            d[j] = 0.0f;
    }
}

/* The buffer (phase 0) of padded row pr, filling a slot if needed. */
static const float *row_of(const tq_conv2d_geom *g, const dw_span *sp, const float *in,
                           dw_rows *r, int64_t pr, int64_t len)
{
    int64_t iy = pr - g->pt;
    if (iy < 0 || iy >= g->ih)
        return r->zero[0];
    int slot = (int)(iy & (DW_SLOTS - 1));
    if (r->tag[slot] != iy) {
        fill_row(g, sp, in + iy * g->iw, len, r->buf[slot][0], r->buf[slot][1]);
        r->tag[slot] = iy;
    }
    return r->buf[slot][0];
}

/* nv vectors of one output row from column x: acc = sum_t w[t] * src[t][x..] */
static inline __attribute__((always_inline)) void
row_block(const float *const *src, const __m256 *w, int64_t x, int nv, __m256 *acc)
{
    /* fully unrolled so the accumulators live in registers (nv is a
     * constant at every call) */
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
        acc[v] = _mm256_setzero_ps();
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
        const float *p = src[t] + x;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[v] = _mm256_fmadd_ps(w[t], _mm256_loadu_ps(p + 8 * v), acc[v]);
    }
}

static inline __attribute__((always_inline)) __m256 finish(__m256 a, __m256 vb, bool clamp,
                                                           __m256 vlo, __m256 vhi)
{
    a = _mm256_add_ps(a, vb);
    /* operand order keeps NaN, like the C reference */
    return clamp ? _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)) : a;
}

void tq_dwconv_avx2(const tq_conv2d_geom *g, const float *in, const float *w, float bias,
                    float *out, bool clamp, float lo, float hi)
{
    if (g->kh != 3 || g->kw != 3 || g->dh != 1 || g->dw != 1 || g->sh < 1 || g->sh > 2 ||
        g->sw != g->sh || g->ow > DW_MAX_OW || g->ow < 1 || g->pl < 0 || g->pt < 0) {
        tq_dwconv_c(g, in, w, bias, out, clamp, lo, hi);
        return;
    }
    static _Thread_local dw_rows rows; /* 35 KB: too big for some thread stacks */
    dw_rows *r = &rows;
    const int s = g->sw;
    const int64_t vecs = (g->ow + 7) / 8;
    /* phase columns read: up to vecs*8 - 1 + (s == 1 ? 2 : 1) */
    const int64_t len = vecs * 8 + 2;
    memset(r->zero[0], 0, sizeof(float) * (size_t)len);
    memset(r->zero[1], 0, sizeof(float) * (size_t)len);
    for (int i = 0; i < DW_SLOTS; i++)
        r->tag[i] = -1;
    dw_span span;
    plan_span(g, len, &span);
    __m256 wv[9];
    for (int t = 0; t < 9; t++)
        wv[t] = _mm256_set1_ps(w[t]);
    const __m256 vb = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);

    for (int64_t oy = 0; oy < g->oh; oy++) {
        const float *src[9];
        for (int ky = 0; ky < 3; ky++) {
            const float *p0 = row_of(g, &span, in, r, oy * s + ky, len);
            const float *p1 = p0 + DW_PHASE; /* odd columns (stride 2) */
            if (s == 1) {
                src[ky * 3 + 0] = p0;
                src[ky * 3 + 1] = p0 + 1;
                src[ky * 3 + 2] = p0 + 2;
            } else {
                src[ky * 3 + 0] = p0;
                src[ky * 3 + 1] = p1;
                src[ky * 3 + 2] = p0 + 1;
            }
        }
        float *orow = out + oy * g->ow;
        int64_t full = g->ow / 8; /* whole vectors inside the row */
        int64_t v = 0;
        __m256 acc[8];
        for (; v + 8 <= full; v += 8) {
            row_block(src, wv, v * 8, 8, acc);
            for (int k = 0; k < 8; k++)
                _mm256_storeu_ps(orow + (v + k) * 8, finish(acc[k], vb, clamp, vlo, vhi));
        }
        int64_t left = full - v;
        if (left >= 4) {
            row_block(src, wv, v * 8, 4, acc);
            for (int k = 0; k < 4; k++)
                _mm256_storeu_ps(orow + (v + k) * 8, finish(acc[k], vb, clamp, vlo, vhi));
            v += 4;
        }
        /* the last 0..3 whole vectors and the partial one together */
        int nv = (int)(vecs - v);
        switch (nv) {
        case 4: row_block(src, wv, v * 8, 4, acc); break;
        case 3: row_block(src, wv, v * 8, 3, acc); break;
        case 2: row_block(src, wv, v * 8, 2, acc); break;
        case 1: row_block(src, wv, v * 8, 1, acc); break;
        default: break;
        }
        for (int k = 0; k < nv; k++) {
            __m256 y = finish(acc[k], vb, clamp, vlo, vhi);
            int64_t x = (v + k) * 8;
            if (x + 8 <= g->ow) {
                _mm256_storeu_ps(orow + x, y);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, y);
                memcpy(orow + x, tmp, sizeof(float) * (size_t)(g->ow - x));
            }
        }
    }
}
