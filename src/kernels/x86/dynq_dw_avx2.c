/* AVX2+FMA fused dynamic-int8 depthwise conv (dynq_dw.h). Like the fp32
 * kernel (dwconv_avx2.c): each input row is quantised once, as (q - zp) in
 * float, into a zero-padded row buffer (even / odd columns split for stride
 * 2), and every output row is nine whole-vector multiply-adds with up to
 * eight independent chains. The sums are exact (integers below 2^24, see
 * kernels/qgemm.h dw_taps), so FMA and order do not matter; the epilogue
 * does the unfused float roundings (mul, then add) and folds min / max.
 * Quantisation is x * (1 / scale) rounded, unless that lies near a
 * half-integer, where the vector takes the division (quant8); it is fused
 * with the padding (masked loads: a zero input quantises to exactly 0) and
 * the stride-2 even / odd split, so a row is one pass with no scalar tail. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/dynq_dw.h"
#include "kernels/x86/avx2_lanes.h"
#include "kernels/x86/dw_taps_avx2.h"

typedef struct dq_quant {
    __m256 vs, vinv, near, qlo, qhi;
} dq_quant;

/* q(x) - zp for one vector (DynamicQuantizeLinear's rounding, kernels/qgemm.h
 * tq_quantize_f32_c). t = x * (1 / scale) is within |t| 2^-23 of the exact
 * quotient (two roundings) and fl(x / scale) within |t| 2^-24, so for
 * |t| < 512 both round alike unless t lies within 2^-12 of a half-integer:
 * then the vector takes the division. Lanes with |t| >= 512 saturate (to 0
 * or 255) whichever way they round, as zp is in [0, 255]. The clamp to
 * [0, 255] is done on q - zp: [-zp, 255 - zp]; NaN gives -zp (q = 0). A
 * zero input gives exactly 0, the padding value. */
static inline __attribute__((always_inline)) __m256 quant8(const dq_quant *q, __m256 xv)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 t = _mm256_mul_ps(xv, q->vinv);
    __m256 r = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 dist = _mm256_and_ps(_mm256_sub_ps(t, r), absmask);
    if (_mm256_movemask_ps(_mm256_cmp_ps(dist, q->near, _CMP_GT_OQ)))
        r = _mm256_round_ps(_mm256_div_ps(xv, q->vs),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_max_ps(r, q->qlo); /* NaN -> second operand */
    return _mm256_min_ps(r, q->qhi);
}

/* phase p column j = input column j*s + p - pl (0 outside the image); the
 * whole row [0, len) is written, in vectors (the buffers have slack). */
static void fill_row(const tq_conv2d_geom *g, const dq_quant *q, const float *row, int64_t len,
                     float *ph0, float *ph1)
{
    if (g->sw == 1) {
        for (int64_t j = 0; j < len; j += 8)
            _mm256_storeu_ps(ph0 + j, quant8(q, tq_dw_load_cols(row, j - g->pl, g->iw)));
        return;
    }
    for (int64_t j = 0; j < len; j += 8) {
        int64_t c = 2 * j - g->pl;
        __m256 a = quant8(q, tq_dw_load_cols(row, c, g->iw));
        __m256 b = quant8(q, tq_dw_load_cols(row, c + 8, g->iw));
        __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
        o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
        _mm256_storeu_ps(ph0 + j, e);
        _mm256_storeu_ps(ph1 + j, o);
    }
}

static const float *row_of(const tq_conv2d_geom *g, const dq_quant *q, const float *x,
                           tq_dw_rows *r, int64_t pr, int64_t len)
{
    int64_t iy = pr - g->pt;
    if (iy < 0 || iy >= g->ih)
        return r->zero[0];
    int slot = (int)(iy & (TQ_DW_SLOTS - 1));
    if (r->tag[slot] != iy) {
        fill_row(g, q, x + iy * g->iw, len, r->buf[slot][0], r->buf[slot][1]);
        r->tag[slot] = iy;
    }
    return r->buf[slot][0];
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

typedef struct dq_out {
    const dq_epi *e;
    int64_t ow;
    __m256i tail; /* lanes of the last vector inside the row */
    __m256 nan;
    __m256 *vmn, *vmx;
} dq_out;

/* Vector v of an output row: the epilogue, the store (masked for the
 * row's last partial vector) and the min / max (lanes past the row become
 * NaN, which min / max skip: the running value is the second operand). */
static inline __attribute__((always_inline)) void emit(const dq_out *d, __m256 acc, float *orow,
                                                       int64_t v)
{
    __m256 y = epi(d->e, acc);
    if (v * 8 + 8 <= d->ow) {
        _mm256_storeu_ps(orow + v * 8, y);
    } else {
        _mm256_maskstore_ps(orow + v * 8, d->tail, y);
        y = _mm256_blendv_ps(d->nan, y, _mm256_castsi256_ps(d->tail));
    }
    *d->vmn = _mm256_min_ps(y, *d->vmn);
    *d->vmx = _mm256_max_ps(y, *d->vmx);
}

static inline __attribute__((always_inline)) void
emit_pair(const dq_out *d, const __m256 *a0, const __m256 *a1, float *orow, int64_t v, int nv)
{
#pragma GCC unroll 4
    for (int k = 0; k < nv; k++) {
        emit(d, a0[k], orow, v + k);
        emit(d, a1[k], orow + d->ow, v + k);
    }
}

void tq_dynq_dw_avx2(const tq_conv2d_geom *g, const float *x, const tq_dynq_dw_args *a,
                     float *out, size_t out_stride, float *mn, float *mx)
{
    float inv = 1.0f / a->scale;
    if (!tq_dw3x3_shape(g) || g->ow > TQ_DW_MAX_OW || g->iw > INT32_MAX / 2 ||
        !(fabsf(a->scale) >= 0x1p-126f && fabsf(inv) >= 0x1p-126f && fabsf(inv) < 0x1p126f)) {
        tq_dynq_dw_c(g, x, a, out, out_stride, mn, mx);
        return;
    }
    static _Thread_local tq_dw_rows rows;
    tq_dw_rows *r = &rows;
    const int s = g->sw;
    const int64_t vecs = (g->ow + 7) / 8, len = vecs * 8 + 2;
    tq_dw_rows_reset(r, len);
    dq_quant q = { _mm256_set1_ps(a->scale), _mm256_set1_ps(inv), _mm256_set1_ps(0.5f - 0x1p-12f),
                   _mm256_set1_ps((float)-a->zp), _mm256_set1_ps((float)(255 - a->zp)) };
    dq_epi e = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_set1_ps(a->act.lo),
                 _mm256_set1_ps(a->act.hi), _mm256_setzero_ps(), a->bias != NULL, a->act.kind };
    __m256 wv[9];
    __m256 vmn = _mm256_set1_ps(*mn), vmx = _mm256_set1_ps(*mx);
    float smn = *mn, smx = *mx;

    const __m256i tail = tq_lane_mask(g->ow - (vecs - 1) * 8);
    const __m256 nan = _mm256_set1_ps(NAN);
    dq_out d = { &e, g->ow, tail, nan, &vmn, &vmx };

    /* two output rows per pass share the input rows between them (4 rows
     * for stride 1, 5 for stride 2 instead of 6), so fewer loads per FMA */
    for (int64_t oy = 0; oy < g->oh; oy += 2) {
        const bool pair = oy + 1 < g->oh;
        const float *rp[5];
        for (int i = 0; i < (pair ? 3 + s : 3); i++)
            rp[i] = row_of(g, &q, x, r, oy * s + i, len);
        /* the rows are quantised once for every output channel */
        for (int o = 0; o < a->nout; o++) {
            for (int t = 0; t < 9; t++)
                wv[t] = _mm256_set1_ps(a->w[9 * o + t]);
            e.sprod = _mm256_set1_ps(a->sprod[o]);
            e.bias = _mm256_set1_ps(a->bias ? a->bias[o] : 0.0f);
            float *orow = out + (size_t)o * out_stride + oy * g->ow;
            TQ_DW_CHANNEL_ROWS(&d, rp, s, pair, wv, _mm256_setzero_ps(), vecs, orow);
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
