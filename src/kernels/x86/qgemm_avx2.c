/* AVX2 versions of the integer kernels in kernels/qgemm.h (no VNNI).
 *
 * The GEMM widens nothing itself: A and B are already int16 with zero points
 * subtracted. Per pair of K rows, B's two rows are interleaved with
 * vpunpck{l,h}wd and multiplied against a broadcast (a[k], a[k+1]) pair with
 * vpmaddwd, which is exact (see qgemm.h). The unpack leaves columns in the
 * order {0-3, 8-11} / {4-7, 12-15}; vperm2i128 restores it at the store. */
#include <immintrin.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>

#include "kernels/qgemm.h"

#define MR 4

static inline void store_tile(int32_t *dst, __m256i lo, __m256i hi, int ncols)
{
    __m256i c0 = _mm256_permute2x128_si256(lo, hi, 0x20);
    __m256i c1 = _mm256_permute2x128_si256(lo, hi, 0x31);
    if (ncols == 16) {
        _mm256_storeu_si256((__m256i *)dst, c0);
        _mm256_storeu_si256((__m256i *)(dst + 8), c1);
    } else {
        int32_t tmp[16];
        _mm256_storeu_si256((__m256i *)tmp, c0);
        _mm256_storeu_si256((__m256i *)(tmp + 8), c1);
        memcpy(dst, tmp, sizeof(int32_t) * (size_t)ncols);
    }
}

static inline int32_t load_pair(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The int16 GEMM of qgemm and qgemm_ind: B row k is b + k * ldb, or
 * brows[k] when brows is given (inlined with a constant NULL or b, so each
 * caller gets its own loop). */
#define BROW(k) (brows ? brows[k] : b + (size_t)(k) * ldb)
static inline __attribute__((always_inline)) void
gemm_s16(int M, int N, int K2, const int16_t *a, size_t lda, const int16_t *b, size_t ldb,
         const int16_t *const *brows, const int32_t *row_init, int32_t *c, size_t ldc)
{
    for (int n0 = 0; n0 < N; n0 += 16) {
        int ncols = N - n0 < 16 ? N - n0 : 16;
        int m = 0;
        for (; m + MR <= M; m += MR) {
            __m256i acc[MR][2];
            for (int r = 0; r < MR; r++) {
                __m256i init = _mm256_set1_epi32(row_init ? row_init[m + r] : 0);
                acc[r][0] = init;
                acc[r][1] = init;
            }
            const int16_t *a0 = a + (size_t)m * lda;
            for (int k = 0; k < K2; k += 2) {
                __m256i r0 = _mm256_loadu_si256((const __m256i *)(BROW(k) + n0));
                __m256i r1 = _mm256_loadu_si256((const __m256i *)(BROW(k + 1) + n0));
                __m256i blo = _mm256_unpacklo_epi16(r0, r1);
                __m256i bhi = _mm256_unpackhi_epi16(r0, r1);
                for (int r = 0; r < MR; r++) {
                    __m256i av = _mm256_set1_epi32(load_pair(a0 + (size_t)r * lda + k));
                    acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(blo, av));
                    acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(bhi, av));
                }
            }
            for (int r = 0; r < MR; r++)
                store_tile(c + (size_t)(m + r) * ldc + n0, acc[r][0], acc[r][1], ncols);
        }
        for (; m < M; m++) {
            __m256i init = _mm256_set1_epi32(row_init ? row_init[m] : 0);
            __m256i acc0 = init, acc1 = init;
            const int16_t *a0 = a + (size_t)m * lda;
            for (int k = 0; k < K2; k += 2) {
                __m256i r0 = _mm256_loadu_si256((const __m256i *)(BROW(k) + n0));
                __m256i r1 = _mm256_loadu_si256((const __m256i *)(BROW(k + 1) + n0));
                __m256i av = _mm256_set1_epi32(load_pair(a0 + k));
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(r0, r1), av));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(r0, r1), av));
            }
            store_tile(c + (size_t)m * ldc + n0, acc0, acc1, ncols);
        }
    }
}
#undef BROW

void tq_qgemm_s16_avx2(int M, int N, int K2, const int16_t *a, size_t lda, const int16_t *b,
                       size_t ldb, const int32_t *row_init, int32_t *c, size_t ldc)
{
    gemm_s16(M, N, K2, a, lda, b, ldb, NULL, row_init, c, ldc);
}

/* 8 int32 -> 8 bytes, saturating to int8 or uint8 (values already in the
 * 8-bit range, or meant to saturate) */
static inline __m128i pack8(__m256i v, int is_signed)
{
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return is_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
}

/* QuantizeLinear of 8 floats (constants from quant_consts_init). x / scale
 * rounded to an integer is what counts. t = x * (1 / scale) is within
 * |t| 2^-23 of the exact quotient (two roundings) and fl(x / scale) within
 * |t| 2^-24, so for |t| < 512 both round alike unless t lies within 2^-12
 * of a half-integer: those rare vectors take the division. Lanes with
 * |t| >= 512 saturate whichever way they round (zp is in [-128, 255], the
 * result range 256 wide), so the fixed margin is enough (a huge t that
 * happens to be a half-integer only takes the division needlessly). */
typedef struct quant_consts {
    __m256 vs, vz, lo, hi, vinv, near;
} quant_consts;

/* False when the scale or its inverse is not a normal float (the bound
 * assumes normal numbers): the caller takes the C path then. */
static inline bool quant_consts_init(quant_consts *k, float scale, int zp, int is_signed)
{
    float inv = 1.0f / scale;
    if (!(fabsf(scale) >= 0x1p-126f && fabsf(inv) >= 0x1p-126f && fabsf(inv) < 0x1p126f))
        return false;
    k->vs = _mm256_set1_ps(scale);
    k->vz = _mm256_set1_ps((float)zp);
    k->lo = _mm256_set1_ps(is_signed ? -128.0f : 0.0f);
    k->hi = _mm256_set1_ps(is_signed ? 127.0f : 255.0f);
    k->vinv = _mm256_set1_ps(inv);
    k->near = _mm256_set1_ps(0.5f - 0x1p-12f);
    return true;
}

/* rint(x / scale) of 8 floats, given the mask test above; *near gets the
 * lanes that need the division (the caller decides per group of vectors) */
static inline __m256 quant_round(__m256 xv, const quant_consts *k, __m256 *near)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 t = _mm256_mul_ps(xv, k->vinv);
    __m256 r = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    *near = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(t, r), absmask), k->near, _CMP_GT_OQ);
    return r;
}

static inline __m256 quant_div(__m256 xv, const quant_consts *k)
{
    return _mm256_round_ps(_mm256_div_ps(xv, k->vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* rounded quotients -> + zp, saturated, as int32 */
static inline __m256i quant_finish(__m256 r, const quant_consts *k)
{
    r = _mm256_add_ps(r, k->vz);
    r = _mm256_max_ps(r, k->lo); /* NaN in r -> lo (second operand) */
    r = _mm256_min_ps(r, k->hi);
    return _mm256_cvtps_epi32(r);
}

/* 32 floats -> 32 bytes: one mask test and one store for four vectors */
static inline __m256i quant32(const float *x, const quant_consts *k, int is_signed)
{
    __m256 xv[4], r[4], nr[4];
    for (int j = 0; j < 4; j++) {
        xv[j] = _mm256_loadu_ps(x + 8 * j);
        r[j] = quant_round(xv[j], k, &nr[j]);
    }
    __m256 any = _mm256_or_ps(_mm256_or_ps(nr[0], nr[1]), _mm256_or_ps(nr[2], nr[3]));
    if (_mm256_movemask_ps(any))
        for (int j = 0; j < 4; j++)
            r[j] = quant_div(xv[j], k);
    __m256i w01 = _mm256_packs_epi32(quant_finish(r[0], k), quant_finish(r[1], k));
    __m256i w23 = _mm256_packs_epi32(quant_finish(r[2], k), quant_finish(r[3], k));
    __m256i b = is_signed ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    /* packs work per 128-bit lane: the permute restores element order */
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline __m128i quant8(__m256 xv, const quant_consts *k, int is_signed)
{
    __m256 near, r = quant_round(xv, k, &near);
    if (_mm256_movemask_ps(near))
        r = quant_div(xv, k);
    return pack8(quant_finish(r, k), is_signed);
}

void tq_quantize_f32_avx2(const float *x, size_t n, float scale, int zp, int is_signed, void *q)
{
    quant_consts k;
    if (!quant_consts_init(&k, scale, zp, is_signed)) {
        tq_quantize_f32_c(x, n, scale, zp, is_signed, q);
        return;
    }
    /* a short tail re-does the last 8 (same values written twice) unless q
     * overlaps x (in place: bytes already written would be read again) */
    uintptr_t qb = (uintptr_t)q, xb = (uintptr_t)x;
    bool overlap_ok = n >= 8 && (qb + n <= xb || qb >= xb + n * sizeof(float));
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        _mm256_storeu_si256((__m256i *)((uint8_t *)q + i), quant32(x + i, &k, is_signed));
    for (;;) {
        if (i + 8 > n) {
            if (i == n || !overlap_ok)
                break;
            i = n - 8;
            overlap_ok = false; /* once */
        }
        _mm_storel_epi64((__m128i *)((uint8_t *)q + i), quant8(_mm256_loadu_ps(x + i), &k, is_signed));
        i += 8;
    }
    if (i < n)
        tq_quantize_f32_c(x + i, n - i, scale, zp, is_signed, (uint8_t *)q + i);
}

void tq_quantize_s16_avx2(const float *x, size_t n, float scale, int zp, int16_t *q)
{
    quant_consts k;
    if (!quant_consts_init(&k, scale, zp, 0)) {
        tq_quantize_s16_c(x, n, scale, zp, q);
        return;
    }
    const __m256i vz = _mm256_set1_epi32(zp);
    for (size_t i = 0; i < n; i += 8) {
        /* the last few through a zero-filled vector (a feature row is
         * often shorter than 8) */
        float tail[8] = { 0 };
        size_t m = n - i < 8 ? n - i : 8;
        if (m < 8)
            memcpy(tail, x + i, sizeof(float) * m);
        __m256 xv = _mm256_loadu_ps(m < 8 ? tail : x + i), near, r = quant_round(xv, &k, &near);
        if (_mm256_movemask_ps(near))
            r = quant_div(xv, &k);
        /* q in [0, 255] minus zp: int16 without saturation */
        __m256i v = _mm256_sub_epi32(quant_finish(r, &k), vz);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        if (m == 8) {
            _mm_storeu_si128((__m128i *)(q + i), w);
        } else {
            int16_t out[8];
            _mm_storeu_si128((__m128i *)out, w);
            memcpy(q + i, out, sizeof(int16_t) * m);
        }
    }
}

void tq_minmax_f32_avx2(const float *x, size_t n, float *mn, float *mx)
{
    size_t i = 0;
    float lo = INFINITY, hi = -INFINITY;
    if (n >= 8) {
        __m256 vlo = _mm256_set1_ps(INFINITY), vhi = _mm256_set1_ps(-INFINITY);
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_loadu_ps(x + i);
            /* min_ps(v, acc) returns acc when v is NaN: NaNs are skipped. */
            vlo = _mm256_min_ps(v, vlo);
            vhi = _mm256_max_ps(v, vhi);
        }
        float l[8], h[8];
        _mm256_storeu_ps(l, vlo);
        _mm256_storeu_ps(h, vhi);
        for (int j = 0; j < 8; j++) {
            lo = l[j] < lo ? l[j] : lo;
            hi = h[j] > hi ? h[j] : hi;
        }
    }
    for (; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    *mn = lo;
    *mx = hi;
}

void tq_dequant_rows_avx2(int32_t *c, int M, int N, size_t ld, const float *scale,
                          const float *bias)
{
    for (int m = 0; m < M; m++) {
        int32_t *cr = c + (size_t)m * ld;
        float *yr = (float *)cr;
        __m256 s = _mm256_set1_ps(scale[m]);
        __m256 bb = _mm256_set1_ps(bias ? bias[m] : 0.0f);
        int n = 0;
        for (; n + 8 <= N; n += 8) {
            __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((__m256i *)(cr + n))), s);
            if (bias)
                p = _mm256_add_ps(p, bb);
            _mm256_storeu_ps(yr + n, p);
        }
        if (n < N)
            tq_dequant_rows_c(cr + n, 1, N - n, ld, scale + m, bias ? bias + m : NULL);
    }
}

/* Relu / Clip on 8 lanes: max_ps(lo, p) = lo > p ? lo : p and
 * min_ps(hi, p) = hi < p ? hi : p are the Clip op's comparisons;
 * max_ps(p, 0) = p > 0 ? p : 0 is Relu's (NaN and -0 -> +0). */
static inline __m256 qact8(__m256 p, int kind, __m256 lo, __m256 hi)
{
    if (kind == TQ_QACT_RELU)
        return _mm256_max_ps(p, _mm256_setzero_ps());
    if (kind == TQ_QACT_CLIP)
        return _mm256_min_ps(hi, _mm256_max_ps(lo, p));
    return p;
}

/* epilogue_rows, with the min / max folded in when track (a constant at
 * each call, so each caller gets its own loop) */
static inline __attribute__((always_inline)) void
epilogue_rows(int32_t *c, int M, int N, size_t ld, const float *scale, const float *bias,
              const float *res, size_t res_ld, const tq_qact *act, bool track, float *mn,
              float *mx)
{
    int kind = act ? act->kind : TQ_QACT_NONE;
    const __m256 lo = _mm256_set1_ps(act && kind == TQ_QACT_CLIP ? act->lo : 0.0f);
    const __m256 hi = _mm256_set1_ps(act && kind == TQ_QACT_CLIP ? act->hi : 0.0f);
    /* min_ps(p, acc) returns acc when p is NaN: NaNs are skipped */
    __m256 vmn = _mm256_set1_ps(track ? *mn : 0.0f), vmx = _mm256_set1_ps(track ? *mx : 0.0f);
    float smn = track ? *mn : 0.0f, smx = track ? *mx : 0.0f;
    for (int m = 0; m < M; m++) {
        int32_t *cr = c + (size_t)m * ld;
        float *yr = (float *)cr;
        const float *rr = res ? res + (size_t)m * res_ld : NULL;
        __m256 s = _mm256_set1_ps(scale[m]);
        __m256 bb = _mm256_set1_ps(bias ? bias[m] : 0.0f);
        int n = 0;
        for (; n + 8 <= N; n += 8) {
            __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((__m256i *)(cr + n))), s);
            if (bias)
                p = _mm256_add_ps(p, bb);
            if (rr)
                p = _mm256_add_ps(p, _mm256_loadu_ps(rr + n));
            p = qact8(p, kind, lo, hi);
            _mm256_storeu_ps(yr + n, p);
            if (track) {
                vmn = _mm256_min_ps(p, vmn);
                vmx = _mm256_max_ps(p, vmx);
            }
        }
        if (n < N && track)
            tq_epilogue_rows_mm_c(cr + n, 1, N - n, ld, scale + m, bias ? bias + m : NULL,
                                  rr ? rr + n : NULL, res_ld, act, &smn, &smx);
        else if (n < N)
            tq_epilogue_rows_c(cr + n, 1, N - n, ld, scale + m, bias ? bias + m : NULL,
                               rr ? rr + n : NULL, res_ld, act);
    }
    if (track) {
        float l[8], h[8];
        _mm256_storeu_ps(l, vmn);
        _mm256_storeu_ps(h, vmx);
        for (int j = 0; j < 8; j++) {
            smn = l[j] < smn ? l[j] : smn;
            smx = h[j] > smx ? h[j] : smx;
        }
        *mn = smn;
        *mx = smx;
    }
}

void tq_epilogue_rows_avx2(int32_t *c, int M, int N, size_t ld, const float *scale,
                           const float *bias, const float *res, size_t res_ld,
                           const tq_qact *act)
{
    epilogue_rows(c, M, N, ld, scale, bias, res, res_ld, act, false, NULL, NULL);
}

void tq_epilogue_rows_mm_avx2(int32_t *c, int M, int N, size_t ld, const float *scale,
                              const float *bias, const float *res, size_t res_ld,
                              const tq_qact *act, float *mn, float *mx)
{
    epilogue_rows(c, M, N, ld, scale, bias, res, res_ld, act, true, mn, mx);
}

void tq_epilogue_cols_avx2(int32_t *c, int M, int N, size_t ld, const float *scale,
                           const float *bias, const tq_qact *act, float *mn, float *mx)
{
    int kind = act ? act->kind : TQ_QACT_NONE;
    /* the Clip / Relu comparisons of epilogue_rows */
    const __m256 lo = _mm256_set1_ps(kind == TQ_QACT_CLIP ? act->lo : 0.0f);
    const __m256 hi = _mm256_set1_ps(kind == TQ_QACT_CLIP ? act->hi : 0.0f);
    /* min_ps(p, acc) returns acc when p is NaN: NaNs are skipped */
    __m256 vmn = _mm256_set1_ps(mn ? *mn : 0.0f), vmx = _mm256_set1_ps(mx ? *mx : 0.0f);
    for (int m = 0; m < M; m++) {
        int32_t *cr = c + (size_t)m * ld;
        float *yr = (float *)cr;
        int n = 0;
        for (; n + 8 <= N; n += 8) {
            __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((__m256i *)(cr + n))),
                                     _mm256_loadu_ps(scale + n));
            if (bias)
                p = _mm256_add_ps(p, _mm256_loadu_ps(bias + n));
            p = qact8(p, kind, lo, hi);
            _mm256_storeu_ps(yr + n, p);
            if (mn) {
                vmn = _mm256_min_ps(p, vmn);
                vmx = _mm256_max_ps(p, vmx);
            }
        }
        if (n < N)
            tq_epilogue_cols_c(cr + n, 1, N - n, ld, scale + n, bias ? bias + n : NULL, act, mn,
                               mx);
    }
    if (mn) {
        /* lanes folded by halves (the lanes hold no NaN: min_ps kept the
         * running value for NaN results, and it started from *mn / *mx) */
        __m128 l = _mm_min_ps(_mm256_castps256_ps128(vmn), _mm256_extractf128_ps(vmn, 1));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(vmx), _mm256_extractf128_ps(vmx, 1));
        l = _mm_min_ps(l, _mm_movehl_ps(l, l));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        l = _mm_min_ss(l, _mm_shuffle_ps(l, l, 1));
        h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
        float lv = _mm_cvtss_f32(l), hv = _mm_cvtss_f32(h);
        *mn = lv < *mn ? lv : *mn;
        *mx = hv > *mx ? hv : *mx;
    }
}

void tq_qdw_taps_avx2(int32_t *out, int n, const float *const *src, const float *w, int ntaps,
                      int32_t init)
{
    const __m256i vinit = _mm256_set1_epi32(init);
    int i = 0;
    /* 32 outputs per pass: four independent FMA chains hide the latency. */
    for (; i + 32 <= n; i += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int t = 0; t < ntaps; t++) {
            __m256 wt = _mm256_broadcast_ss(w + t);
            const float *s = src[t] + i;
            a0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s), a0);
            a1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 8), a1);
            a2 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 16), a2);
            a3 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 24), a3);
        }
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_add_epi32(vinit, _mm256_cvttps_epi32(a0)));
        _mm256_storeu_si256((__m256i *)(out + i + 8), _mm256_add_epi32(vinit, _mm256_cvttps_epi32(a1)));
        _mm256_storeu_si256((__m256i *)(out + i + 16), _mm256_add_epi32(vinit, _mm256_cvttps_epi32(a2)));
        _mm256_storeu_si256((__m256i *)(out + i + 24), _mm256_add_epi32(vinit, _mm256_cvttps_epi32(a3)));
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int t = 0; t < ntaps; t++)
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + t), _mm256_loadu_ps(src[t] + i), a0);
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_add_epi32(vinit, _mm256_cvttps_epi32(a0)));
    }
    if (i < n) {
        /* masked loads read only the n - i valid floats of each row */
        static const int32_t ramp[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
        __m256i mask = _mm256_loadu_si256((const __m256i *)(ramp + 8 - (n - i)));
        __m256 a0 = _mm256_setzero_ps();
        for (int t = 0; t < ntaps; t++)
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + t), _mm256_maskload_ps(src[t] + i, mask),
                                 a0);
        _mm256_maskstore_epi32(out + i, mask, _mm256_add_epi32(vinit, _mm256_cvttps_epi32(a0)));
    }
}

void tq_qwiden_f32_avx2(float *dst, const void *src, int n, int step, int zp, int is_signed)
{
    const uint8_t *s = src;
    const __m256i vz = _mm256_set1_epi32(zp);
    int i = 0;
    if (step == 1) {
        for (; i + 8 <= n; i += 8) {
            __m128i b = _mm_loadl_epi64((const __m128i *)(s + i));
            __m256i v = is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
            _mm256_storeu_ps(dst + i, _mm256_cvtepi32_ps(_mm256_sub_epi32(v, vz)));
        }
    } else if (step == 2) {
        /* 16 bytes -> the 8 even ones; reads s[2i .. 2i+15], so stop while
         * 2i+15 <= 2(n-1), i.e. i + 9 <= n */
        const __m128i even = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
        for (; i + 9 <= n; i += 8) {
            __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 2 * (size_t)i)), even);
            __m256i v = is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
            _mm256_storeu_ps(dst + i, _mm256_cvtepi32_ps(_mm256_sub_epi32(v, vz)));
        }
    }
    if (i < n)
        tq_qwiden_f32_c(dst + i, s + (size_t)i * (size_t)step, n - i, step, zp, is_signed);
}

void tq_qwiden_s16_avx2(int16_t *dst, const void *src, int n, int step, int zp, int is_signed)
{
    const uint8_t *s = src;
    const __m256i vz = _mm256_set1_epi16((int16_t)zp);
    int i = 0;
    if (step == 1) {
        for (; i + 16 <= n; i += 16) {
            __m128i b = _mm_loadu_si128((const __m128i *)(s + i));
            __m256i v = is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_sub_epi16(v, vz));
        }
    } else if (step == 2) {
        /* 32 bytes -> the 16 even ones; reads s[2i .. 2i+31]: i + 17 <= n */
        const __m256i even = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1,
                                              -1, -1, 0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1,
                                              -1, -1, -1, -1);
        for (; i + 17 <= n; i += 16) {
            __m256i b = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(s + 2 * (size_t)i)),
                                            even);
            b = _mm256_permute4x64_epi64(b, 0x08); /* qwords 0, 2 -> low half */
            __m128i lo = _mm256_castsi256_si128(b);
            __m256i v = is_signed ? _mm256_cvtepi8_epi16(lo) : _mm256_cvtepu8_epi16(lo);
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_sub_epi16(v, vz));
        }
    }
    if (i < n && step == 1 && n >= 16) {
        /* overlap the last full vector with the one before: the overlapped
         * elements are written twice with the same values */
        __m128i b = _mm_loadu_si128((const __m128i *)(s + n - 16));
        __m256i v = is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
        _mm256_storeu_si256((__m256i *)(dst + n - 16), _mm256_sub_epi16(v, vz));
    } else if (i < n && step <= 2) {
        /* short rows are common (28-pixel images): widen the tail from a
         * copy padded to a full vector instead of element by element */
        uint8_t tmp[32] = {0};
        int m = n - i, bytes = (m - 1) * step + 1;
        memcpy(tmp, s + (size_t)i * (size_t)step, (size_t)bytes);
        int16_t out[16];
        __m128i b = _mm_loadu_si128((const __m128i *)tmp);
        if (step == 2) {
            __m256i t = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)tmp),
                                            _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1,
                                                             -1, -1, -1, -1, -1, 0, 2, 4, 6, 8, 10,
                                                             12, 14, -1, -1, -1, -1, -1, -1, -1, -1));
            b = _mm256_castsi256_si128(_mm256_permute4x64_epi64(t, 0x08));
        }
        __m256i v = is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
        _mm256_storeu_si256((__m256i *)out, _mm256_sub_epi16(v, vz));
        memcpy(dst + i, out, sizeof(int16_t) * (size_t)m);
    } else if (i < n) {
        tq_qwiden_s16_c(dst + i, s + (size_t)i * (size_t)step, n - i, step, zp, is_signed);
    }
}

/* 8 products acc * mult as int32 rint values, clamped to +-2^16 first (a
 * bound far outside every 8-bit result, so the later saturating packs give
 * the same bytes as clamping rint(x) + zp in float; NaN becomes -2^16, i.e.
 * the low end, like max_ps(NaN, lo) in the 8-lane path). */
static inline __m256i requant_v(__m256i acc, __m256 vm, __m256i vz)
{
    const __m256 big = _mm256_set1_ps(65536.0f), nbig = _mm256_set1_ps(-65536.0f);
    __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), vm);
    x = _mm256_max_ps(x, nbig); /* NaN -> -2^16 (second operand) */
    x = _mm256_min_ps(x, big);
    /* cvtps rounds half to even (default MXCSR), = rint; + zp exact in int32 */
    return _mm256_add_epi32(_mm256_cvtps_epi32(x), vz);
}

static inline __m256i requant_i32(const int32_t *acc, __m256 vm, __m256i vz)
{
    return requant_v(_mm256_loadu_si256((const __m256i *)acc), vm, vz);
}

/* 8 requantised bytes of acc[0..8) (see requant_v). */
static inline __m128i requant8(const int32_t *acc, __m256 vm, __m256i vz, int is_signed)
{
    return pack8(requant_i32(acc, vm, vz), is_signed);
}

void tq_requant_cols_avx2(const int32_t *acc, int M, int N, const int32_t *bias,
                          const float *mult, int zp, int is_signed, void *y)
{
    const __m256i vz = _mm256_set1_epi32(zp);
    for (int m = 0; m < M; m++) {
        const int32_t *a = acc + (size_t)m * (size_t)N;
        uint8_t *o = (uint8_t *)y + (size_t)m * (size_t)N;
        int n = 0;
        for (; n + 8 <= N; n += 8) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(a + n));
            if (bias)
                v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(bias + n)));
            _mm_storel_epi64((__m128i *)(o + n),
                             pack8(requant_v(v, _mm256_loadu_ps(mult + n), vz), is_signed));
        }
        if (n < N)
            tq_requant_cols_c(a + n, 1, N - n, bias ? bias + n : NULL, mult + n, zp, is_signed,
                              o + n);
    }
}

void tq_requant_avx2(const int32_t *acc, int n, float mult, int zp, int is_signed, void *out)
{
    const __m256 vm = _mm256_set1_ps(mult);
    const __m256i vz = _mm256_set1_epi32(zp), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    uint8_t *o = out;
    int i = 0;
    /* 32 at a time: one store */
    for (; i + 32 <= n; i += 32) {
        __m256i v0 = requant_i32(acc + i, vm, vz), v1 = requant_i32(acc + i + 8, vm, vz);
        __m256i v2 = requant_i32(acc + i + 16, vm, vz), v3 = requant_i32(acc + i + 24, vm, vz);
        /* packs work per 128-bit lane: the permute restores element order */
        __m256i w01 = _mm256_packs_epi32(v0, v1), w23 = _mm256_packs_epi32(v2, v3);
        __m256i b = is_signed ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
        _mm256_storeu_si256((__m256i *)(o + i), _mm256_permutevar8x32_epi32(b, order));
    }
    for (; i + 8 <= n; i += 8)
        _mm_storel_epi64((__m128i *)(o + i), requant8(acc + i, vm, vz, is_signed));
    if (i < n && n >= 8) { /* overlapping last vector: same values written twice */
        _mm_storel_epi64((__m128i *)(o + n - 8), requant8(acc + n - 8, vm, vz, is_signed));
    } else if (i < n) { /* fewer than 8: through a zero-padded vector */
        int32_t a8[8] = { 0 };
        uint8_t o8[8];
        memcpy(a8, acc, sizeof(int32_t) * (size_t)n);
        _mm_storel_epi64((__m128i *)o8, requant8(a8, vm, vz, is_signed));
        memcpy(o, o8, (size_t)n);
    }
}

void tq_qgemm_ind_avx2(int M, int N, int K2, const int16_t *a, size_t lda,
                       const int16_t *const *brows, const int32_t *row_init, int32_t *c,
                       size_t ldc)
{
    gemm_s16(M, N, K2, a, lda, NULL, 0, brows, row_init, c, ldc);
}

/* 8 pixels: dst[4i + j] = src[j][i] ^ flip for i < 8 (reads 8 bytes of each row). */
static inline void interleave4_8(uint8_t *dst, const uint8_t *const *src, int i, __m128i vf)
{
    __m128i ab = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(src[0] + i)),
                                   _mm_loadl_epi64((const __m128i *)(src[1] + i)));
    __m128i cd = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(src[2] + i)),
                                   _mm_loadl_epi64((const __m128i *)(src[3] + i)));
    uint8_t *o = dst + 4 * (size_t)i;
    _mm_storeu_si128((__m128i *)o, _mm_xor_si128(_mm_unpacklo_epi16(ab, cd), vf));
    _mm_storeu_si128((__m128i *)(o + 16), _mm_xor_si128(_mm_unpackhi_epi16(ab, cd), vf));
}

/* n < 16 pixels: two overlapping 8-pixel steps when n >= 8 (the overlap
 * writes the same bytes twice), else through 8-byte copies of the rows. */
static void interleave4_short(uint8_t *dst, const uint8_t *const *src, int n, __m128i vf)
{
    if (n >= 8) {
        interleave4_8(dst, src, 0, vf);
        interleave4_8(dst, src, n - 8, vf);
        return;
    }
    uint8_t rows[4][8] = { { 0 } }, tmp[32];
    const uint8_t *rp[4] = { rows[0], rows[1], rows[2], rows[3] };
    for (int j = 0; j < 4; j++)
        memcpy(rows[j], src[j], (size_t)n);
    interleave4_8(tmp, rp, 0, vf);
    memcpy(dst, tmp, 4 * (size_t)n);
}

void tq_interleave4_avx2(uint8_t *dst, const uint8_t *const *src, int n, uint8_t flip)
{
    const __m128i vf = _mm_set1_epi8((char)flip);
    int i = 0;
    for (;;) {
        if (i + 16 > n) {
            if (i == n || n < 16)
                break;
            i = n - 16; /* overlap the last vector: same bytes written twice */
        }
        __m128i a = _mm_loadu_si128((const __m128i *)(src[0] + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(src[1] + i));
        __m128i c = _mm_loadu_si128((const __m128i *)(src[2] + i));
        __m128i d = _mm_loadu_si128((const __m128i *)(src[3] + i));
        __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
        __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
        uint8_t *o = dst + 4 * (size_t)i;
        _mm_storeu_si128((__m128i *)o, _mm_xor_si128(_mm_unpacklo_epi16(ab0, cd0), vf));
        _mm_storeu_si128((__m128i *)(o + 16), _mm_xor_si128(_mm_unpackhi_epi16(ab0, cd0), vf));
        _mm_storeu_si128((__m128i *)(o + 32), _mm_xor_si128(_mm_unpacklo_epi16(ab1, cd1), vf));
        _mm_storeu_si128((__m128i *)(o + 48), _mm_xor_si128(_mm_unpackhi_epi16(ab1, cd1), vf));
        i += 16;
    }
    if (i < n) /* n < 16: 14- and 7-pixel rows of the small layers */
        interleave4_short(dst, src, n, vf);
}

void tq_gather_u8_avx2(uint8_t *dst, const uint8_t *src, int n, int step)
{
    int i = 0;
    if (step == 2) {
        /* 32 bytes -> their 16 even bytes; reads src[2i .. 2i+31]: i + 17 <= n */
        const __m256i even = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1,
                                              -1, -1, 0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1,
                                              -1, -1, -1, -1);
        for (; i + 17 <= n; i += 16) {
            __m256i b = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(src + 2 * (size_t)i)),
                                            even);
            b = _mm256_permute4x64_epi64(b, 0x08);
            _mm_storeu_si128((__m128i *)(dst + i), _mm256_castsi256_si128(b));
        }
    } else if (step == 1) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    tq_gather_u8_c(dst + i, src + (size_t)i * (size_t)step, n - i, step);
}

/* 8 bytes of one branch -> 8 floats: the operations of tq_qbranch_value,
 * each a separate rounding (no FMA). */
static inline __m256 branch8(const uint8_t *p, const tq_qbranch *br)
{
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    __m256i q = br->is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(br->zp))),
                             _mm256_set1_ps(br->scale));
    if (br->has_affine) {
        v = _mm256_mul_ps(v, _mm256_set1_ps(br->mul));
        v = _mm256_add_ps(v, _mm256_set1_ps(br->add));
    }
    return v;
}

void tq_qadd2_avx2(float *out, const uint8_t *a, const tq_qbranch *ba, const uint8_t *b,
                   const tq_qbranch *bb, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = branch8(a + i, ba);
        if (b)
            v = _mm256_add_ps(v, branch8(b + i, bb));
        _mm256_storeu_ps(out + i, v);
    }
    if (i < n && n >= 8) { /* overlapping last vector: same values written twice */
        __m256 v = branch8(a + n - 8, ba);
        if (b)
            v = _mm256_add_ps(v, branch8(b + n - 8, bb));
        _mm256_storeu_ps(out + n - 8, v);
    } else if (i < n) {
        tq_qadd2_c(out + i, a + i, ba, b ? b + i : NULL, bb, n - i);
    }
}

void tq_qelt2q_avx2(uint8_t *y, const uint8_t *a, const tq_qbranch *ba, const uint8_t *b,
                    const tq_qbranch *bb, int n, const tq_qact *act, float y_scale, int y_zp,
                    int y_signed)
{
    quant_consts k;
    if (n < 8 || !quant_consts_init(&k, y_scale, y_zp, y_signed)) {
        tq_qelt2q_c(y, a, ba, b, bb, n, act, y_scale, y_zp, y_signed);
        return;
    }
    const __m256 zero = _mm256_setzero_ps();
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
    /* the short tail re-does the last 8 (same bytes written twice) unless y
     * overlaps an input (bytes already written would be read again) */
    uintptr_t yb = (uintptr_t)y, ab = (uintptr_t)a, bb_ = (uintptr_t)b;
    bool redo_ok = (yb + (size_t)n <= ab || yb >= ab + (size_t)n) &&
                   (!b || yb + (size_t)n <= bb_ || yb >= bb_ + (size_t)n);
    for (int i = 0;; i += 8) {
        if (i + 8 > n) {
            if (i < n && !redo_ok)
                tq_qelt2q_c(y + i, a + i, ba, b ? b + i : NULL, bb, n - i, act, y_scale, y_zp,
                            y_signed);
            if (i == n || !redo_ok)
                break;
            i = n - 8;
            redo_ok = false; /* once */
        }
        __m256 v = branch8(a + i, ba);
        if (b)
            v = _mm256_add_ps(v, branch8(b + i, bb));
        if (act->kind == TQ_QACT_RELU) {
            v = _mm256_max_ps(v, zero); /* v > 0 ? v : 0 (NaN -> 0) */
        } else if (act->kind == TQ_QACT_CLIP) {
            v = _mm256_max_ps(lo, v); /* lo > v ? lo : v (NaN stays) */
            v = _mm256_min_ps(hi, v); /* hi < v ? hi : v */
        }
        _mm_storel_epi64((__m128i *)(y + i), quant8(v, &k, y_signed));
    }
}

void tq_deint2_u32_avx2(uint32_t *even, uint32_t *odd, const uint32_t *src, int n)
{
    int i = 0;
    for (;;) {
        if (i + 8 > n) {
            if (i == n || n < 8)
                break;
            i = n - 8; /* overlap the last vector: same values written twice */
        }
        __m256 a = _mm256_loadu_ps((const float *)(src + 2 * (size_t)i));
        __m256 b = _mm256_loadu_ps((const float *)(src + 2 * (size_t)i + 8));
        /* per 128-bit lane {a0 a2 b0 b2}: 64-bit chunks reordered 0, 2, 1, 3 */
        __m256d e = _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88));
        __m256d o = _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD));
        _mm256_storeu_pd((double *)(void *)(even + i), _mm256_permute4x64_pd(e, 0xD8));
        _mm256_storeu_pd((double *)(void *)(odd + i), _mm256_permute4x64_pd(o, 0xD8));
        i += 8;
    }
    if (i < n) /* n < 8 */
        tq_deint2_u32_c(even + i, odd + i, src + 2 * (size_t)i, n - i);
}
