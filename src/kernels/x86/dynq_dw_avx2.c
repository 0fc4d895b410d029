/* AVX2+FMA fused dynamic-int8 depthwise conv (dynq_dw.h). Like the fp32
 * kernel (dwconv_avx2.c): each input row is quantised once, as (q - zp) in
 * float, into a zero-padded row buffer (even / odd columns split for stride
 * 2), and every output row is nine whole-vector multiply-adds with up to
 * eight independent chains. The sums are exact (integers below 2^24, see
 * kernels/qgemm.h dw_taps), so FMA and order do not matter; the epilogue
 * does the unfused float roundings (mul, then add) and folds min / max.
 * Quantisation is tq_quantize_f32_avx2's: x * (1 / scale) rounded, unless
 * that lies near a half-integer, where the vector takes the division. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/dynq_dw.h"

#define DQ_MAX_OW 1024
#define DQ_MAX_IW 4096
#define DQ_PHASE (DQ_MAX_OW + 72)
#define DQ_SLOTS 4 /* a power of 2: 3 live rows + 1 */

typedef struct dq_rows {
    float buf[DQ_SLOTS][2][DQ_PHASE];
    float zero[2][DQ_PHASE];
    float qrow[DQ_MAX_IW + 16]; /* one quantised input row (stride 2) */
    int64_t tag[DQ_SLOTS];
} dq_rows;

typedef struct dq_quant {
    __m256 vs, vinv, vz;
    float scale;
    int zp;
} dq_quant;

static int quant1(float x, float scale, int zp)
{
    float t = rintf(x / scale) + (float)zp;
    t = t > 0.0f ? t : 0.0f;
    t = t < 255.0f ? t : 255.0f;
    return (int)t - zp;
}

/* dst[i] = q(x[i]) - zp as float */
static void quant_row(const dq_quant *q, const float *x, int64_t n, float *dst)
{
    const __m256 half = _mm256_set1_ps(0.5f), rel = _mm256_set1_ps(0x1p-20f);
    const __m256 tiny = _mm256_set1_ps(0x1p-60f);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        __m256 t = _mm256_mul_ps(xv, q->vinv);
        __m256 r = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 dist = _mm256_and_ps(_mm256_sub_ps(t, r), absmask);
        __m256 margin = _mm256_add_ps(_mm256_mul_ps(_mm256_and_ps(t, absmask), rel), tiny);
        __m256 near = _mm256_cmp_ps(dist, _mm256_sub_ps(half, margin), _CMP_GT_OQ);
        if (_mm256_movemask_ps(near))
            r = _mm256_round_ps(_mm256_div_ps(xv, q->vs),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm256_add_ps(r, q->vz);
        r = _mm256_max_ps(r, lo); /* NaN -> 0 (second operand) */
        r = _mm256_min_ps(r, hi);
        _mm256_storeu_ps(dst + i, _mm256_sub_ps(r, q->vz));
    }
    for (; i < n; i++)
        dst[i] = (float)quant1(x[i], q->scale, q->zp);
}

typedef struct dq_span {
    int64_t lo[2], hi[2];
} dq_span;

static void plan_span(const tq_conv2d_geom *g, int64_t len, dq_span *sp)
{
    const int s = g->sw;
    for (int p = 0; p < s; p++) {
        int64_t first = g->pl - p;
        int64_t lo = first > 0 ? (first + s - 1) / s : 0;
        int64_t last = g->iw - 1 + g->pl - p;
        int64_t hi = last >= 0 ? last / s + 1 : 0;
        hi = hi > len ? len : hi;
        lo = lo > hi ? hi : lo;
        sp->lo[p] = lo;
        sp->hi[p] = hi;
    }
}

/* phase p column j = input column j*s + p - pl (0 outside the image) */
static void fill_row(const tq_conv2d_geom *g, const dq_span *sp, const dq_quant *q,
                     const float *row, int64_t len, float *ph0, float *ph1, float *qrow)
{
    if (g->sw == 1) {
        const int64_t lo = sp->lo[0], hi = sp->hi[0];
        memset(ph0, 0, sizeof(float) * (size_t)lo);
        quant_row(q, row + lo - g->pl, hi - lo, ph0 + lo);
        memset(ph0 + hi, 0, sizeof(float) * (size_t)(len - hi));
        return;
    }
    quant_row(q, row, g->iw, qrow);
    for (int p = 0; p < 2; p++) {
        float *d = p ? ph1 : ph0;
        const int64_t lo = sp->lo[p], hi = sp->hi[p];
        const float *src = qrow + lo * 2 + p - g->pl;
        memset(d, 0, sizeof(float) * (size_t)lo);
        int64_t j = lo;
        /* 8 outputs read src[2(j-lo) .. +15]: qrow has 16 floats of slack */
        for (; j + 8 <= hi; j += 8) {
            const float *s = src + 2 * (j - lo);
            __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8);
            __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
            e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
            _mm256_storeu_ps(d + j, e);
        }
        for (; j < hi; j++)
            d[j] = src[2 * (j - lo)];
        memset(d + hi, 0, sizeof(float) * (size_t)(len - hi));
    }
}

static const float *row_of(const tq_conv2d_geom *g, const dq_span *sp, const dq_quant *q,
                           const float *x, dq_rows *r, int64_t pr, int64_t len)
{
    int64_t iy = pr - g->pt;
    if (iy < 0 || iy >= g->ih)
        return r->zero[0];
    int slot = (int)(iy & (DQ_SLOTS - 1));
    if (r->tag[slot] != iy) {
        fill_row(g, sp, q, x + iy * g->iw, len, r->buf[slot][0], r->buf[slot][1], r->qrow);
        r->tag[slot] = iy;
    }
    return r->buf[slot][0];
}

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

typedef struct dq_epi {
    __m256 sprod, bias, lo, hi, zero;
    bool has_bias;
    int act;
} dq_epi;

/* Cast -> Mul -> [Add] -> [Relu | Clip], as the unfused ops round */
static inline __attribute__((always_inline)) __m256 epi(const dq_epi *e, __m256 a)
{
    __m256 y = _mm256_mul_ps(a, e->sprod);
    if (e->has_bias)
        y = _mm256_add_ps(y, e->bias);
    if (e->act == TQ_QACT_RELU) {
        y = _mm256_max_ps(y, e->zero); /* NaN and -0 -> +0, like x > 0 ? x : 0 */
    } else if (e->act == TQ_QACT_CLIP) {
        y = _mm256_max_ps(e->lo, y); /* NaN stays */
        y = _mm256_min_ps(e->hi, y);
    }
    return y;
}

void tq_dynq_dw_avx2(const tq_conv2d_geom *g, const float *x, const tq_dynq_dw_args *a,
                     float *out, size_t out_stride, float *mn, float *mx)
{
    float inv = 1.0f / a->scale;
    if (!tq_dynq_dw_supports(g) || g->ow > DQ_MAX_OW || g->iw > DQ_MAX_IW ||
        !(fabsf(a->scale) >= 0x1p-126f && fabsf(inv) >= 0x1p-126f && fabsf(inv) < 0x1p126f)) {
        tq_dynq_dw_c(g, x, a, out, out_stride, mn, mx);
        return;
    }
    static _Thread_local dq_rows rows;
    dq_rows *r = &rows;
    const int s = g->sw;
    const int64_t vecs = (g->ow + 7) / 8, len = vecs * 8 + 2;
    memset(r->zero[0], 0, sizeof(float) * (size_t)len);
    memset(r->zero[1], 0, sizeof(float) * (size_t)len);
    for (int i = 0; i < DQ_SLOTS; i++)
        r->tag[i] = -1;
    dq_quant q = { _mm256_set1_ps(a->scale), _mm256_set1_ps(inv), _mm256_set1_ps((float)a->zp),
                   a->scale, a->zp };
    dq_span span;
    plan_span(g, len, &span);
    dq_epi e = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_set1_ps(a->act.lo),
                 _mm256_set1_ps(a->act.hi), _mm256_setzero_ps(), a->bias != NULL, a->act.kind };
    __m256 wv[9];
    __m256 vmn = _mm256_set1_ps(*mn), vmx = _mm256_set1_ps(*mx);
    float smn = *mn, smx = *mx;

    for (int64_t oy = 0; oy < g->oh; oy++) {
        const float *src[9];
        for (int ky = 0; ky < 3; ky++) {
            const float *p0 = row_of(g, &span, &q, x, r, oy * s + ky, len);
            src[ky * 3 + 0] = p0;
            src[ky * 3 + 1] = s == 1 ? p0 + 1 : p0 + DQ_PHASE;
            src[ky * 3 + 2] = s == 1 ? p0 + 2 : p0 + 1;
        }
        /* the rows are quantised once for every output channel */
        for (int o = 0; o < a->nout; o++) {
            for (int t = 0; t < 9; t++)
                wv[t] = _mm256_set1_ps(a->w[9 * o + t]);
            e.sprod = _mm256_set1_ps(a->sprod[o]);
            e.bias = _mm256_set1_ps(a->bias ? a->bias[o] : 0.0f);
            float *orow = out + (size_t)o * out_stride + oy * g->ow;
            int64_t full = g->ow / 8, v = 0;
            __m256 acc[8];
            for (; v + 8 <= full; v += 8) {
                row_block(src, wv, v * 8, 8, acc);
                for (int k = 0; k < 8; k++) {
                    __m256 y = epi(&e, acc[k]);
                    vmn = _mm256_min_ps(y, vmn); /* NaN -> keeps vmn */
                    vmx = _mm256_max_ps(y, vmx);
                    _mm256_storeu_ps(orow + (v + k) * 8, y);
                }
            }
            if (full - v >= 4) {
                row_block(src, wv, v * 8, 4, acc);
                for (int k = 0; k < 4; k++) {
                    __m256 y = epi(&e, acc[k]);
                    vmn = _mm256_min_ps(y, vmn);
                    vmx = _mm256_max_ps(y, vmx);
                    _mm256_storeu_ps(orow + (v + k) * 8, y);
                }
                v += 4;
            }
            int nv = (int)(vecs - v);
            switch (nv) {
            case 4: row_block(src, wv, v * 8, 4, acc); break;
            case 3: row_block(src, wv, v * 8, 3, acc); break;
            case 2: row_block(src, wv, v * 8, 2, acc); break;
            case 1: row_block(src, wv, v * 8, 1, acc); break;
            default: break;
            }
            for (int k = 0; k < nv; k++) {
                __m256 y = epi(&e, acc[k]);
                int64_t x0 = (v + k) * 8;
                if (x0 + 8 <= g->ow) {
                    vmn = _mm256_min_ps(y, vmn);
                    vmx = _mm256_max_ps(y, vmx);
                    _mm256_storeu_ps(orow + x0, y);
                } else {
                    float tmp[8];
                    _mm256_storeu_ps(tmp, y);
                    for (int64_t i = 0; i < g->ow - x0; i++) {
                        orow[x0 + i] = tmp[i];
                        smn = tmp[i] < smn ? tmp[i] : smn;
                        smx = tmp[i] > smx ? tmp[i] : smx;
                    }
                }
            }
        }
    }
    float t[8];
    _mm256_storeu_ps(t, vmn);
    for (int i = 0; i < 8; i++)
        smn = t[i] < smn ? t[i] : smn;
    _mm256_storeu_ps(t, vmx);
    for (int i = 0; i < 8; i++)
        smx = t[i] > smx ? t[i] : smx;
    *mn = smn;
    *mx = smx;
}
