/* C references of the integer kernels, the packers, and the dispatch table
 * that picks AVX2 versions when the CPU has them. */
#include "kernels/qgemm.h"

#include "kernels/cpu.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void tq_qgemm_s16_c(int M, int N, int K2, const int16_t *a, size_t lda, const int16_t *b,
                    size_t ldb, const int32_t *row_init, int32_t *c, size_t ldc)
{
    for (int m = 0; m < M; m++) {
        int32_t *cr = c + (size_t)m * ldc;
        for (int n = 0; n < N; n++)
            cr[n] = row_init ? row_init[m] : 0;
        for (int k = 0; k < K2; k++) {
            int32_t av = a[(size_t)m * lda + k];
            const int16_t *br = b + (size_t)k * ldb;
            for (int n = 0; n < N; n++)
                cr[n] += av * br[n];
        }
    }
}

void tq_quantize_f32_c(const float *x, size_t n, float scale, int zp, int is_signed, void *q)
{
    float lo = is_signed ? -128.0f : 0.0f, hi = is_signed ? 127.0f : 255.0f;
    for (size_t i = 0; i < n; i++) {
        float t = rintf(x[i] / scale) + (float)zp;
        t = t > lo ? t : lo; /* NaN -> lo, matching max_ps(t, lo) */
        t = t < hi ? t : hi;
        if (is_signed)
            ((int8_t *)q)[i] = (int8_t)(int)t;
        else
            ((uint8_t *)q)[i] = (uint8_t)(int)t;
    }
}

void tq_quantize_s16_c(const float *x, size_t n, float scale, int zp, int16_t *q)
{
    for (size_t i = 0; i < n; i++) {
        float t = rintf(x[i] / scale) + (float)zp; /* tq_quantize_f32_c, uint8 */
        t = t > 0.0f ? t : 0.0f;
        t = t < 255.0f ? t : 255.0f;
        q[i] = (int16_t)((int)t - zp);
    }
}

void tq_minmax_f32_c(const float *x, size_t n, float *mn, float *mx)
{
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    *mn = lo;
    *mx = hi;
}

void tq_dequant_rows_c(int32_t *c, int M, int N, size_t ld, const float *scale,
                       const float *bias)
{
    for (int m = 0; m < M; m++) {
        int32_t *cr = c + (size_t)m * ld;
        float *yr = (float *)cr;
        float s = scale[m], bb = bias ? bias[m] : 0.0f;
        for (int n = 0; n < N; n++) {
            float p = (float)cr[n] * s;
            yr[n] = bias ? p + bb : p;
        }
    }
}

/* The Relu / Clip ops' own comparisons (qgemm.h tq_qact) */
static inline float qact_apply(const tq_qact *act, int kind, float p)
{
    if (kind == TQ_QACT_RELU) {
        p = p > 0.0f ? p : 0.0f;
    } else if (kind == TQ_QACT_CLIP) {
        p = p < act->lo ? act->lo : p;
        p = p > act->hi ? act->hi : p;
    }
    return p;
}

void tq_epilogue_rows_c(int32_t *c, int M, int N, size_t ld, const float *scale,
                        const float *bias, const float *res, size_t res_ld, const tq_qact *act)
{
    int kind = act ? act->kind : TQ_QACT_NONE;
    for (int m = 0; m < M; m++) {
        int32_t *cr = c + (size_t)m * ld;
        float *yr = (float *)cr;
        const float *rr = res ? res + (size_t)m * res_ld : NULL;
        float s = scale[m], bb = bias ? bias[m] : 0.0f;
        for (int n = 0; n < N; n++) {
            float p = (float)cr[n] * s;
            if (bias)
                p = p + bb;
            if (rr)
                p = p + rr[n];
            yr[n] = qact_apply(act, kind, p);
        }
    }
}

void tq_epilogue_cols_c(int32_t *c, int M, int N, size_t ld, const float *scale,
                        const float *bias, const tq_qact *act, float *mn, float *mx)
{
    int kind = act ? act->kind : TQ_QACT_NONE;
    for (int m = 0; m < M; m++) {
        int32_t *cr = c + (size_t)m * ld;
        float *yr = (float *)cr;
        for (int n = 0; n < N; n++) {
            float p = (float)cr[n] * scale[n];
            if (bias)
                p = p + bias[n];
            p = qact_apply(act, kind, p);
            yr[n] = p;
            if (mn && p == p) { /* NaNs skipped */
                *mn = p < *mn ? p : *mn;
                *mx = p > *mx ? p : *mx;
            }
        }
    }
}

void tq_epilogue_rows_mm_c(int32_t *c, int M, int N, size_t ld, const float *scale,
                           const float *bias, const float *res, size_t res_ld, const tq_qact *act,
                           float *mn, float *mx)
{
    tq_epilogue_rows_c(c, M, N, ld, scale, bias, res, res_ld, act);
    float lo = *mn, hi = *mx;
    for (int m = 0; m < M; m++) {
        const float *yr = (const float *)(const void *)(c + (size_t)m * ld);
        for (int n = 0; n < N; n++) {
            lo = yr[n] < lo ? yr[n] : lo; /* NaN compares false: skipped */
            hi = yr[n] > hi ? yr[n] : hi;
        }
    }
    *mn = lo;
    *mx = hi;
}

void tq_qdw_taps_c(int32_t *out, int n, const float *const *src, const float *w, int ntaps,
                   int32_t init)
{
    for (int i = 0; i < n; i++) {
        float acc = 0.0f;
        for (int t = 0; t < ntaps; t++)
            acc += w[t] * src[t][i];
        out[i] = init + (int32_t)acc;
    }
}

void tq_qwiden_f32_c(float *dst, const void *src, int n, int step, int zp, int is_signed)
{
    for (int i = 0; i < n; i++) {
        int v = is_signed ? ((const int8_t *)src)[(size_t)i * (size_t)step]
                          : ((const uint8_t *)src)[(size_t)i * (size_t)step];
        dst[i] = (float)(v - zp);
    }
}

void tq_qwiden_s16_c(int16_t *dst, const void *src, int n, int step, int zp, int is_signed)
{
    for (int i = 0; i < n; i++) {
        int v = is_signed ? ((const int8_t *)src)[(size_t)i * (size_t)step]
                          : ((const uint8_t *)src)[(size_t)i * (size_t)step];
        dst[i] = (int16_t)(v - zp);
    }
}

void tq_requant_c(const int32_t *acc, int n, float mult, int zp, int is_signed, void *out)
{
    float lo = is_signed ? -128.0f : 0.0f, hi = is_signed ? 127.0f : 255.0f;
    for (int i = 0; i < n; i++) {
        float t = rintf((float)acc[i] * mult) + (float)zp;
        t = t > lo ? t : lo;
        t = t < hi ? t : hi;
        if (is_signed)
            ((int8_t *)out)[i] = (int8_t)(int)t;
        else
            ((uint8_t *)out)[i] = (uint8_t)(int)t;
    }
}

void tq_requant_cols_c(const int32_t *acc, int M, int N, const int32_t *bias, const float *mult,
                       int zp, int is_signed, void *y)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            size_t i = (size_t)m * (size_t)N + (size_t)n;
            int32_t v = acc[i] + (bias ? bias[n] : 0);
            tq_requant_c(&v, 1, mult[n], zp, is_signed, (uint8_t *)y + i);
        }
}

void tq_qgemm_ind_c(int M, int N, int K2, const int16_t *a, size_t lda,
                    const int16_t *const *brows, const int32_t *row_init, int32_t *c, size_t ldc)
{
    for (int m = 0; m < M; m++) {
        int32_t *cr = c + (size_t)m * ldc;
        for (int n = 0; n < N; n++)
            cr[n] = row_init ? row_init[m] : 0;
        for (int k = 0; k < K2; k++) {
            int32_t av = a[(size_t)m * lda + k];
            const int16_t *br = brows[k];
            for (int n = 0; n < N; n++)
                cr[n] += av * br[n];
        }
    }
}

void tq_qgemm_c4_c(int M, int N, int KQ, const int8_t *w, const uint8_t *const *brows,
                   const int32_t *row_init, int32_t *c, size_t ldc)
{
    for (int m = 0; m < M; m++) {
        const int8_t *wm = w + (size_t)m * 4 * (size_t)KQ;
        for (int n = 0; n < N; n++) {
            int32_t acc = row_init ? row_init[m] : 0;
            for (int q = 0; q < KQ; q++)
                for (int j = 0; j < 4; j++)
                    acc += (int32_t)brows[q][4 * n + j] * wm[4 * q + j];
            c[(size_t)m * ldc + n] = acc;
        }
    }
}

void tq_qgemm_c4s_c(int M, int N, int KQ, const int8_t *w, const int8_t *const *brows,
                    const int32_t *row_init, int32_t *c, size_t ldc)
{
    for (int m = 0; m < M; m++) {
        const int8_t *wm = w + (size_t)m * 4 * (size_t)KQ;
        for (int n = 0; n < N; n++) {
            int32_t acc = row_init ? row_init[m] : 0;
            for (int q = 0; q < KQ; q++)
                for (int j = 0; j < 4; j++)
                    acc += (int32_t)brows[q][4 * n + j] * wm[4 * q + j];
            c[(size_t)m * ldc + n] = acc;
        }
    }
}

int tq_qgemm_c4u_fits(const int8_t *w, size_t nquads)
{
    for (size_t i = 0; i < nquads; i++) {
        const int8_t *p = w + 4 * i;
        if (abs(p[0]) + abs(p[1]) > TQ_C4U_PAIR_MAX || abs(p[2]) + abs(p[3]) > TQ_C4U_PAIR_MAX)
            return 0;
    }
    return 1;
}

void tq_interleave4_c(uint8_t *dst, const uint8_t *const *src, int n, uint8_t flip)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 4; j++)
            dst[4 * i + j] = (uint8_t)(src[j][i] ^ flip);
}

void tq_gather_u8_c(uint8_t *dst, const uint8_t *src, int n, int step)
{
    for (int i = 0; i < n; i++)
        dst[i] = src[(size_t)i * (size_t)step];
}

float tq_qbranch_value(const tq_qbranch *br, uint8_t byte)
{
    int q = br->is_signed ? (int)(int8_t)byte : (int)byte;
    float v = (float)(q - br->zp) * br->scale;
    if (br->has_affine) {
        v = v * br->mul;
        v = v + br->add;
    }
    return v;
}

void tq_qadd2_c(float *out, const uint8_t *a, const tq_qbranch *ba, const uint8_t *b,
                const tq_qbranch *bb, int n)
{
    for (int i = 0; i < n; i++) {
        float v = tq_qbranch_value(ba, a[i]);
        if (b)
            v = v + tq_qbranch_value(bb, b[i]);
        out[i] = v;
    }
}

void tq_qelt2q_c(uint8_t *y, const uint8_t *a, const tq_qbranch *ba, const uint8_t *b,
                 const tq_qbranch *bb, int n, const tq_qact *act, float y_scale, int y_zp,
                 int y_signed)
{
    for (int i = 0; i < n; i++) {
        float v = tq_qbranch_value(ba, a[i]);
        if (b)
            v = v + tq_qbranch_value(bb, b[i]);
        if (act->kind == TQ_QACT_RELU) {
            v = v > 0.0f ? v : 0.0f;
        } else if (act->kind == TQ_QACT_CLIP) {
            v = v < act->lo ? act->lo : v;
            v = v > act->hi ? act->hi : v;
        }
        tq_quantize_f32_c(&v, 1, y_scale, y_zp, y_signed, y + i);
    }
}

void tq_deint2_u32_c(uint32_t *even, uint32_t *odd, const uint32_t *src, int n)
{
    for (int i = 0; i < n; i++) {
        even[i] = src[2 * i];
        odd[i] = src[2 * i + 1];
    }
}

void tq_qpack_rows(int M, int K, const void *src, ptrdiff_t src_rs, ptrdiff_t src_cs,
                   int is_signed, const void *zp, ptrdiff_t zp_rs, ptrdiff_t zp_cs,
                   int16_t *dst, size_t lda)
{
    for (int m = 0; m < M; m++) {
        int16_t *d = dst + (size_t)m * lda;
        for (int k = 0; k < K; k++) {
            ptrdiff_t si = m * src_rs + k * src_cs, zi = m * zp_rs + k * zp_cs;
            int v, z = 0;
            if (is_signed) {
                v = ((const int8_t *)src)[si];
                if (zp)
                    z = ((const int8_t *)zp)[zi];
            } else {
                v = ((const uint8_t *)src)[si];
                if (zp)
                    z = ((const uint8_t *)zp)[zi];
            }
            d[k] = (int16_t)(v - z);
        }
        for (size_t k = (size_t)K; k < lda; k++)
            d[k] = 0;
    }
}

static const tq_qdsp c_table = {
    .qgemm = tq_qgemm_s16_c,
    .quantize = tq_quantize_f32_c,
    .minmax = tq_minmax_f32_c,
    .dequant_rows = tq_dequant_rows_c,
    .epilogue_rows = tq_epilogue_rows_c,
    .epilogue_rows_mm = tq_epilogue_rows_mm_c,
    .epilogue_cols = tq_epilogue_cols_c,
    .dw_taps = tq_qdw_taps_c,
    .widen_f32 = tq_qwiden_f32_c,
    .widen_s16 = tq_qwiden_s16_c,
    .requant = tq_requant_c,
    .requant_cols = tq_requant_cols_c,
    .quantize_s16 = tq_quantize_s16_c,
    .qgemm_ind = tq_qgemm_ind_c,
    .qgemm_c4 = tq_qgemm_c4_c,
    .qgemm_c4s = tq_qgemm_c4s_c,
    .interleave4 = tq_interleave4_c,
    .gather_u8 = tq_gather_u8_c,
    .qadd2 = tq_qadd2_c,
    .qelt2q = tq_qelt2q_c,
    .deint2_u32 = tq_deint2_u32_c,
    .qgemm_c4u = tq_qgemm_c4_c,
};

/* ---- qgemm_c4u pairing schedule (qgemm.h tq_c4u_pairs) */

/* One step's quad of a 4-row block: its weights, the image row it reads
 * and, for each row and byte pair, the sum of its positive weights and of
 * the magnitudes of its negative ones (16 values; key = the largest). */
typedef struct quad_load {
    int8_t w[16]; /* [row][4] */
    uint8_t v[16];
    int key;
    uint32_t q;
} quad_load;

static int cmp_load_desc(const void *a, const void *b)
{
    const quad_load *x = a, *y = b;
    if (x->key != y->key)
        return y->key - x->key;
    if (x->q != y->q)
        return x->q < y->q ? -1 : 1;
    return memcmp(x->w, y->w, sizeof x->w); /* total order: deterministic schedule */
}

static bool loads_fit(const quad_load *a, const quad_load *b)
{
    for (int i = 0; i < 16; i++)
        if (a->v[i] + b->v[i] > TQ_C4U_PAIR_MAX)
            return false;
    return true;
}

/* Fill l->v / l->key from l->w; false when a pair exceeds the bound. */
static bool quad_loads(quad_load *l)
{
    bool fits = true;
    l->key = 0;
    for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++) {
            int pos = 0, neg = 0;
            for (int j = 0; j < 2; j++) {
                int v = l->w[4 * r + 2 * h + j];
                pos += v > 0 ? v : 0;
                neg += v < 0 ? -v : 0;
            }
            fits &= pos <= TQ_C4U_PAIR_MAX && neg <= TQ_C4U_PAIR_MAX;
            l->v[4 * r + 2 * h] = (uint8_t)(pos < 255 ? pos : 255);
            l->v[4 * r + 2 * h + 1] = (uint8_t)(neg < 255 ? neg : 255);
            l->key = pos > l->key ? pos : l->key;
            l->key = neg > l->key ? neg : l->key;
        }
    return fits;
}

/* True when a pair of this row's weight quad is over the bound. */
static bool row_over(const int8_t *w4)
{
    for (int h = 0; h < 2; h++) {
        int pos = 0, neg = 0;
        for (int j = 0; j < 2; j++) {
            int v = w4[2 * h + j];
            pos += v > 0 ? v : 0;
            neg += v < 0 ? -v : 0;
        }
        if (pos > TQ_C4U_PAIR_MAX || neg > TQ_C4U_PAIR_MAX)
            return true;
    }
    return false;
}

/* Steps per block up to which pairing searches all earlier steps
 * (quadratic; 4096 steps = a 3x3 conv with ~900 input channels). */
#define BEST_FIT_MAX 4096

void tq_c4u_pairs_free(tq_c4u_pairs *p)
{
    free(p->npairs);
    free(p->nsingles);
    free(p->order);
    free(p->w);
    free(p->ncorr);
    free(p->corr_q);
    free(p->corr_w);
    memset(p, 0, sizeof *p);
}

int tq_c4u_pairs_build(tq_c4u_pairs *p, int M, int KQ, const int8_t *w)
{
    memset(p, 0, sizeof *p);
    p->M = M;
    p->KQ = KQ;
    p->blocks = M / 4;
    p->stride = 2 * (KQ > 0 ? KQ : 1);
    size_t nb = (size_t)(p->blocks > 0 ? p->blocks : 1), st = (size_t)p->stride;
    p->npairs = calloc(nb, sizeof(int));
    p->nsingles = calloc(nb, sizeof(int));
    p->order = calloc(nb * st, sizeof(uint32_t));
    p->w = calloc(nb * st * 16, 1);
    p->ncorr = calloc(nb * 4, sizeof(int));
    p->corr_q = calloc(nb * st, sizeof(uint32_t));
    p->corr_w = calloc(nb * st * 4, 1);
    quad_load *ld = malloc(sizeof(quad_load) * st);
    quad_load *singles = malloc(sizeof(quad_load) * st);
    int *partner = malloc(sizeof(int) * st);
    /* this block's corrections before sorting by row: quad, row, weights */
    uint32_t *cq = malloc(sizeof(uint32_t) * st);
    int *crow = malloc(sizeof(int) * st);
    int8_t *cw = malloc(4 * st);
    if (!p->npairs || !p->nsingles || !p->order || !p->w || !p->ncorr || !p->corr_q ||
        !p->corr_w || !ld || !singles || !partner || !cq || !crow || !cw) {
        free(ld);
        free(singles);
        free(partner);
        free(cq);
        free(crow);
        free(cw);
        tq_c4u_pairs_free(p);
        return -1;
    }
    for (int b = 0; b < p->blocks; b++) {
        int n = 0, nc = 0;
        for (int q = 0; q < KQ; q++) {
            quad_load l = { .q = (uint32_t)q };
            bool zero = true;
            for (int r = 0; r < 4; r++)
                for (int j = 0; j < 4; j++) {
                    l.w[4 * r + j] = w[((size_t)b * 4 + (size_t)r) * 4 * (size_t)KQ +
                                       4 * (size_t)q + (size_t)j];
                    zero &= l.w[4 * r + j] == 0;
                }
            if (zero) /* all-zero quads add nothing */
                continue;
            if (quad_loads(&l)) {
                ld[n++] = l;
                continue;
            }
            int over[4], nover = 0;
            for (int r = 0; r < 4; r++)
                if (row_over(l.w + 4 * r))
                    over[nover++] = r;
            if (nover <= 2) {
                /* those rows halved in the quad's step (every pair then
                 * fits), their other halves (ceil(w / 2), in [-64, 64])
                 * one-row corrections: 1 or 2 row steps instead of a
                 * second 4-row step */
                for (int i = 0; i < nover; i++) {
                    int8_t *row = l.w + 4 * over[i];
                    cq[nc] = (uint32_t)q;
                    crow[nc] = over[i];
                    for (int j = 0; j < 4; j++) {
                        int8_t half = (int8_t)(row[j] >> 1);
                        cw[4 * nc + j] = (int8_t)(row[j] - half);
                        row[j] = half;
                    }
                    nc++;
                }
                quad_loads(&l);
                ld[n++] = l;
                continue;
            }
            /* a pair over the bound: two steps on the same image row with
             * w = lo + hi, lo = floor(w / 2) in [-64, 63], hi in [-64, 64]:
             * every pair of each then fits */
            quad_load lo = { .q = (uint32_t)q }, hi = { .q = (uint32_t)q };
            for (int k = 0; k < 16; k++) {
                lo.w[k] = (int8_t)(l.w[k] >> 1);
                hi.w[k] = (int8_t)(l.w[k] - lo.w[k]);
            }
            quad_loads(&lo);
            quad_loads(&hi);
            ld[n++] = lo;
            ld[n++] = hi;
        }
        qsort(ld, (size_t)n, sizeof *ld, cmp_load_desc);
        uint32_t *ord = p->order + (size_t)b * st;
        int8_t *wb = p->w + (size_t)b * st * 16;
        int np = 0, ns = 0;
        if (n <= BEST_FIT_MAX) {
            /* best fit, heaviest first: each step joins the heaviest
             * earlier unpaired step it fits with (partner[] = -1: none yet;
             * -2: taken as the second of a pair) */
            for (int i = 0; i < n; i++) {
                int best = -1;
                for (int k = 0; k < i; k++)
                    if (partner[k] == -1 && (best < 0 || ld[k].key > ld[best].key) &&
                        loads_fit(&ld[k], &ld[i]))
                        best = k;
                partner[i] = -1;
                if (best >= 0) {
                    partner[best] = i;
                    partner[i] = -2;
                }
            }
            for (int i = 0; i < n; i++) {
                if (partner[i] == -2)
                    continue;
                if (partner[i] == -1) {
                    singles[ns++] = ld[i];
                    continue;
                }
                ord[2 * np] = ld[i].q;
                ord[2 * np + 1] = ld[partner[i]].q;
                memcpy(wb + 32 * (size_t)np, ld[i].w, 16);
                memcpy(wb + 32 * (size_t)np + 16, ld[partner[i]].w, 16);
                np++;
            }
        } else {
            /* linear time for huge layers: the heaviest step left with the
             * lightest, when they fit */
            for (int i = 0, j = n - 1; i <= j;) {
                if (i < j && loads_fit(&ld[i], &ld[j])) {
                    ord[2 * np] = ld[i].q;
                    ord[2 * np + 1] = ld[j].q;
                    memcpy(wb + 32 * (size_t)np, ld[i++].w, 16);
                    memcpy(wb + 32 * (size_t)np + 16, ld[j--].w, 16);
                    np++;
                } else {
                    singles[ns++] = ld[i++];
                }
            }
        }
        for (int k = 0; k < ns; k++) {
            ord[2 * np + k] = singles[k].q;
            memcpy(wb + 16 * (size_t)(2 * np + k), singles[k].w, 16);
        }
        p->npairs[b] = np;
        p->nsingles[b] = ns;
        /* corrections grouped by row (the kernel adds them row by row) */
        uint32_t *oq = p->corr_q + (size_t)b * st;
        int8_t *ow = p->corr_w + (size_t)b * st * 4;
        int k = 0;
        for (int r = 0; r < 4; r++)
            for (int i = 0; i < nc; i++)
                if (crow[i] == r) {
                    oq[k] = cq[i];
                    memcpy(ow + 4 * (size_t)k, cw + 4 * (size_t)i, 4);
                    p->ncorr[4 * b + r]++;
                    k++;
                }
    }
    free(ld);
    free(singles);
    free(partner);
    free(cq);
    free(crow);
    free(cw);
    return 0;
}

#if defined(TQ_HAVE_AVX2)
/* The entries both x86 tables share; each adds its GEMM kernels. */
#define AVX2_SHARED_ENTRIES                                                                        \
    .qgemm = tq_qgemm_s16_avx2, .quantize = tq_quantize_f32_avx2,                                 \
    .minmax = tq_minmax_f32_avx2, .dequant_rows = tq_dequant_rows_avx2,                           \
    .epilogue_rows = tq_epilogue_rows_avx2, .epilogue_rows_mm = tq_epilogue_rows_mm_avx2,        \
    .epilogue_cols = tq_epilogue_cols_avx2, .dw_taps = tq_qdw_taps_avx2,                         \
    .widen_f32 = tq_qwiden_f32_avx2, .widen_s16 = tq_qwiden_s16_avx2,                            \
    .requant = tq_requant_avx2, .requant_cols = tq_requant_cols_avx2,                            \
    .quantize_s16 = tq_quantize_s16_avx2,                                                         \
    .qgemm_c4s = tq_qgemm_c4s_avx2, .interleave4 = tq_interleave4_avx2,                          \
    .gather_u8 = tq_gather_u8_avx2, .qadd2 = tq_qadd2_avx2, .qelt2q = tq_qelt2q_avx2,           \
    .deint2_u32 = tq_deint2_u32_avx2
static const tq_qdsp avx2_table = {
    AVX2_SHARED_ENTRIES,
    .qgemm_ind = tq_qgemm_ind_avx2,
    .qgemm_c4 = tq_qgemm_c4_c, /* only chosen when VNNI is present (qconv.c) */
    .qgemm_c4u = tq_qgemm_c4u_avx2,
    .qgemm_c4u_pairs = tq_qgemm_c4u_pairs_avx2,
};
/* AVX2 plus the AVX512-VNNI implicit-GEMM kernels (qconv.c takes
 * qgemm_c4 over qgemm_c4s here). */
static const tq_qdsp vnni_table = {
    AVX2_SHARED_ENTRIES,
    .qgemm_ind = tq_qgemm_ind_vnni,
    .qgemm_c4 = tq_qgemm_c4_vnni,
    .qgemm_c4u = tq_qgemm_c4_vnni, /* exact for any weights */
};
#endif

void tq_lut8_c(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *table)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = table[src[i]];
}

tq_lut8_fn tq_lut8_get(void)
{
#if defined(TQ_HAVE_AVX2)
    if (tq_cpu_flags() & TQ_CPU_FLAG_AVX512VBMI)
        return tq_lut8_vbmi;
#endif
    return tq_lut8_c;
}

const tq_qdsp *tq_qdsp_c(void)
{
    return &c_table;
}

const tq_qdsp *tq_qdsp_get(void)
{
    unsigned f = tq_cpu_flags();
#if defined(TQ_HAVE_AVX2)
    if (f & TQ_CPU_FLAG_AVX512VNNI)
        return &vnni_table;
    if (f & TQ_CPU_FLAG_AVX2)
        return &avx2_table;
#endif
    (void)f;
    return &c_table;
}

