/* checkasm-style tests of the fp32 kernels: random inputs and odd sizes,
 * sentinel-filled outputs, the C reference checked against a double-precision
 * naive loop and the AVX2 kernels checked against the C reference, with
 * tolerances derived from the rounding bound of each sum.
 * `test_kernels --bench` instead prints GFLOP/s of C vs AVX2 (not a test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "checkasm.h"
#include "kernels/conv.h"
#include "kernels/cpu.h"
#include "kernels/pool.h"
#include "kernels/sgemm.h"

static bool have_avx2(void)
{
    return (tq_cpu_flags() & TQ_CPU_FLAG_AVX2) != 0;
}

/* --------------------------------------------------------------- sgemm */

typedef struct gemm_case {
    int64_t m, n, k;
    ptrdiff_t lda, ldb, ldc;
    float *a, *b, *c0, *bias, *res; /* res: residual, row stride ldr = n + 1 */
    tq_sgemm_post post;
} gemm_case;

static void gemm_case_init(gemm_case *g, int64_t m, int64_t n, int64_t k)
{
    g->m = m;
    g->n = n;
    g->k = k;
    g->lda = k + rnd_int(0, 3);
    g->ldb = n + rnd_int(0, 3);
    g->ldc = n + rnd_int(0, 3);
    g->a = malloc(sizeof(float) * (size_t)(m * g->lda + 1));
    g->b = malloc(sizeof(float) * (size_t)(k * g->ldb + 1));
    g->c0 = malloc(sizeof(float) * (size_t)(m * g->ldc + 1));
    g->bias = malloc(sizeof(float) * (size_t)(m > n ? m : n));
    rnd_fill(g->a, (size_t)(m * g->lda));
    rnd_fill(g->b, (size_t)(k * g->ldb));
    rnd_fill(g->c0, (size_t)(m * g->ldc));
    rnd_fill(g->bias, (size_t)(m > n ? m : n));
    g->res = malloc(sizeof(float) * (size_t)(m * (n + 1) + 1));
    rnd_fill(g->res, (size_t)(m * (n + 1)));
    memset(&g->post, 0, sizeof g->post);
    if (rnd_int(0, 1)) {
        g->post.residual = g->res;
        g->post.ldr = n + 1;
    }
    g->post.alpha = rnd_int(0, 1) ? 1.0f : rnd_float() * 2;
    g->post.accumulate = rnd_int(0, 1);
    if (rnd_int(0, 1)) {
        g->post.bias = g->bias;
        g->post.bias_per_col = rnd_int(0, 1);
    }
    g->post.clamp = rnd_int(0, 2) == 0;
    g->post.lo = rnd_int(0, 1) ? 0.0f : -0.5f;
    g->post.hi = rnd_int(0, 1) ? INFINITY : 0.75f;
}

static void gemm_case_free(gemm_case *g)
{
    free(g->a);
    free(g->b);
    free(g->c0);
    free(g->bias);
    free(g->res);
}

/* Exact-ish value of output (i, j) and the magnitude sum bounding its error. */
static double gemm_ref(const gemm_case *g, int64_t i, int64_t j, double *abs_sum)
{
    double s = 0, as = 0;
    for (int64_t kk = 0; kk < g->k; kk++) {
        double p = (double)g->a[i * g->lda + kk] * g->b[kk * g->ldb + j];
        s += p;
        as += fabs(p);
    }
    double v = g->post.alpha * s;
    as *= fabs(g->post.alpha);
    if (g->post.accumulate) {
        v += g->c0[i * g->ldc + j];
        as += fabs(g->c0[i * g->ldc + j]);
    }
    if (g->post.bias) {
        double bv = g->post.bias_per_col ? g->bias[j] : g->bias[i];
        v += bv;
        as += fabs(bv);
    }
    if (g->post.residual) {
        double rv = g->post.residual[i * g->post.ldr + j];
        v += rv;
        as += fabs(rv);
    }
    if (g->post.clamp)
        v = v < g->post.lo ? g->post.lo : (v > g->post.hi ? g->post.hi : v);
    *abs_sum = as;
    return v;
}

/* Run the driver with one table and check every element of C: inside the
 * m x n window against the reference, outside it (the ldc gap) untouched. */
static void gemm_run_check(const gemm_case *g, const tq_sgemm_dsp *dsp, bool packed,
                           float *out_copy)
{
    size_t csz = (size_t)(g->m * g->ldc);
    float *c = malloc(sizeof(float) * (csz + 1));
    if (g->post.accumulate)
        memcpy(c, g->c0, csz * sizeof(float));
    else
        fill_sentinel(c, csz);
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = g->n; j < g->ldc; j++)
            c[i * g->ldc + j] = SENTINEL;
    float *pb = NULL;
    if (packed) {
        pb = malloc(sizeof(float) * (tq_sgemm_packed_b_floats(g->k, g->n) + 1));
        tq_sgemm_pack_b(g->b, g->ldb, 1, g->k, g->n, pb);
    }
    tq_sgemm(dsp, g->m, g->n, g->k, g->a, g->lda, packed ? pb : g->b, g->ldb, packed, c,
             g->ldc, &g->post);
    for (int64_t i = 0; i < g->m; i++) {
        for (int64_t j = 0; j < g->n; j++) {
            double as;
            double ref = gemm_ref(g, i, j, &as);
            double got = c[i * g->ldc + j];
            if (fabs(got - ref) > sum_tolerance(g->k, as))
                fail_msg("sgemm m=%lld n=%lld k=%lld packed=%d at (%lld,%lld): got %.9g, "
                         "want %.9g (tol %.3g)",
                         (long long)g->m, (long long)g->n, (long long)g->k, packed,
                         (long long)i, (long long)j, got, ref, sum_tolerance(g->k, as));
        }
        for (int64_t j = g->n; j < g->ldc; j++)
            assert_true(c[i * g->ldc + j] == SENTINEL);
    }
    if (out_copy)
        memcpy(out_copy, c, csz * sizeof(float));
    free(pb);
    free(c);
}

static void test_sgemm_vs_double(void **state)
{
    (void)state;
    tq_sgemm_dsp c_dsp, best;
    tq_sgemm_dsp_init(&c_dsp, 0);
    tq_sgemm_dsp_init(&best, tq_cpu_flags());
    for (int iter = 0; iter < 300; iter++) {
        int64_t m = rnd_int(1, 67), n = rnd_int(1, 67), k = rnd_int(0, 67);
        if (iter % 25 == 0)
            k = rnd_int(TQ_SGEMM_KC - 3, 2 * TQ_SGEMM_KC + 5); /* K blocking */
        gemm_case g;
        gemm_case_init(&g, m, n, k);
        bool packed = iter & 1;
        gemm_run_check(&g, &c_dsp, packed, NULL);
        gemm_run_check(&g, &best, packed, NULL);
        gemm_case_free(&g);
    }
}

/* AVX2 against the C reference, element by element, on the tile kernel. */
static void test_sgemm_tile_avx2_vs_c(void **state)
{
    (void)state;
#if defined(TQ_HAVE_AVX2)
    if (!have_avx2())
        skip();
    for (int mr = 1; mr <= TQ_SGEMM_MR; mr++)
        for (int nr = 1; nr <= TQ_SGEMM_NR; nr++) {
            int64_t k = rnd_int(0, 67);
            ptrdiff_t lda = k + rnd_int(0, 5), ldb = nr + rnd_int(0, 5);
            ptrdiff_t ldc = nr + rnd_int(0, 5);
            float a[TQ_SGEMM_MR * 80], b[80 * 40], c1[TQ_SGEMM_MR * 40], c2[TQ_SGEMM_MR * 40];
            float br[TQ_SGEMM_MR], bc[TQ_SGEMM_NR], res[TQ_SGEMM_MR * 40];
            rnd_fill(a, sizeof a / sizeof a[0]);
            rnd_fill(b, sizeof b / sizeof b[0]);
            rnd_fill(c1, sizeof c1 / sizeof c1[0]);
            rnd_fill(br, TQ_SGEMM_MR);
            rnd_fill(bc, TQ_SGEMM_NR);
            rnd_fill(res, sizeof res / sizeof res[0]);
            for (int i = 0; i < mr; i++)
                for (int j = nr; j < ldc; j++)
                    c1[i * ldc + j] = SENTINEL;
            memcpy(c2, c1, sizeof c1);
            /* indirect rows: a random permutation-ish of row starts */
            ptrdiff_t offs[80];
            bool use_offs = rnd_int(0, 1);
            for (int64_t kk = 0; kk < k; kk++)
                offs[kk] = (ptrdiff_t)rnd_int(0, (int)(k - 1)) * ldb + rnd_int(0, 5);
            float alpha = rnd_float();
            bool load_c = rnd_int(0, 1), clamp = rnd_int(0, 1);
            const float *bias_row = rnd_int(0, 1) ? br : NULL;
            const float *bias_col = rnd_int(0, 1) ? bc : NULL;
            const float *resid = rnd_int(0, 1) ? res : NULL;
            tq_sgemm_epi epi = { alpha, load_c, bias_row, bias_col, resid, nr + 3, clamp,
                                 -0.25f, 0.5f };
            tq_sgemm_tile_c(mr, nr, k, a, lda, b, ldb, use_offs ? offs : NULL, c1, ldc, &epi);
            tq_sgemm_tile_avx2(mr, nr, k, a, lda, b, ldb, use_offs ? offs : NULL, c2, ldc, &epi);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < ldc; j++) {
                    double as = 0;
                    for (int64_t kk = 0; kk < k; kk++)
                        as += fabs((double)a[i * lda + kk] *
                                   b[(use_offs ? offs[kk] : kk * ldb) + j]) * fabs(alpha);
                    as += 4; /* |c|, |bias|, |residual| terms are < 1 each */
                    double tol = 2 * sum_tolerance(k, as);
                    if (fabs((double)c1[i * ldc + j] - c2[i * ldc + j]) > tol)
                        fail_msg("tile %dx%d k=%lld at (%d,%d): C %.9g AVX2 %.9g", mr, nr,
                                 (long long)k, i, j, c1[i * ldc + j], c2[i * ldc + j]);
                    if (j >= nr)
                        assert_true(c2[i * ldc + j] == SENTINEL);
                }
        }
#else
    skip();
#endif
}

/* -------------------------------------------------------------- im2col */

static void rnd_geom(tq_conv2d_geom *g, int c)
{
    g->c = c;
    g->kh = rnd_int(1, 4);
    g->kw = rnd_int(1, 4);
    g->sh = rnd_int(1, 3);
    g->sw = rnd_int(1, 3);
    g->dh = rnd_int(1, 2);
    g->dw = rnd_int(1, 2);
    g->pt = rnd_int(0, g->kh - 1);
    g->pl = rnd_int(0, g->kw - 1);
    int pb = rnd_int(0, g->kh - 1), pr = rnd_int(0, g->kw - 1);
    int ekh = (g->kh - 1) * g->dh + 1, ekw = (g->kw - 1) * g->dw + 1;
    g->ih = rnd_int(ekh, ekh + 30);
    g->iw = rnd_int(ekw, ekw + 40);
    g->oh = (g->ih + g->pt + pb - ekh) / g->sh + 1;
    g->ow = (g->iw + g->pl + pr - ekw) / g->sw + 1;
}

static float tap(const tq_conv2d_geom *g, const float *in, int64_t ci, int64_t oy, int64_t ox,
                 int ky, int kx)
{
    int64_t iy = oy * g->sh - g->pt + (int64_t)ky * g->dh;
    int64_t ix = ox * g->sw - g->pl + (int64_t)kx * g->dw;
    if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw)
        return 0.0f;
    return in[(ci * g->ih + iy) * g->iw + ix];
}

static void test_im2col_pack(void **state)
{
    (void)state;
    for (int iter = 0; iter < 60; iter++) {
        tq_conv2d_geom g;
        rnd_geom(&g, rnd_int(1, 5));
        size_t in_n = (size_t)(g.c * g.ih * g.iw);
        float *in = malloc(in_n * sizeof(float));
        rnd_fill(in, in_n);
        int64_t pixels = g.oh * g.ow;
        int64_t col0 = rnd_int(0, (int)(pixels - 1));
        int64_t cols = rnd_int(1, (int)(pixels - col0));
        int64_t k = g.c * g.kh * g.kw;
        size_t psz = tq_sgemm_packed_b_floats(k, cols);
        float *packed = malloc((psz + 1) * sizeof(float));
        fill_sentinel(packed, psz);
        tq_im2col_pack(&g, in, col0, cols, packed);
        for (int64_t j = 0; j < (int64_t)(psz / (size_t)(k ? k : 1)); j++)
            for (int64_t kk = 0; kk < k; kk++) {
                float got = packed[(j / TQ_SGEMM_NR) * k * TQ_SGEMM_NR + kk * TQ_SGEMM_NR +
                                   j % TQ_SGEMM_NR];
                float want = 0.0f; /* panel padding is zero */
                if (j < cols) {
                    int64_t pix = col0 + j, ci = kk / (g.kh * g.kw);
                    int ky = (int)(kk / g.kw % g.kh), kx = (int)(kk % g.kw);
                    want = tap(&g, in, ci, pix / g.ow, pix % g.ow, ky, kx);
                }
                if (got != want)
                    fail_msg("im2col col %lld row %lld: got %g want %g", (long long)j,
                             (long long)kk, got, want);
            }
        free(packed);
        free(in);
    }
}

/* ----------------------------------------------------------- depthwise */

static void check_dw(const tq_dwconv_fn fn, const char *name, const tq_conv2d_geom *g)
{
    size_t in_n = (size_t)(g->ih * g->iw), out_n = (size_t)(g->oh * g->ow);
    float *in = malloc(in_n * sizeof(float)), *out = malloc((out_n + 8) * sizeof(float));
    float w[16];
    rnd_fill(in, in_n);
    rnd_fill(w, 16);
    fill_sentinel(out, out_n + 8);
    float bias = rnd_float();
    bool clamp = rnd_int(0, 1);
    fn(g, in, w, bias, out, clamp, 0.0f, 6.0f);
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++) {
            double s = bias, as = fabs(bias);
            for (int ky = 0; ky < g->kh; ky++)
                for (int kx = 0; kx < g->kw; kx++) {
                    double p = (double)w[ky * g->kw + kx] * tap(g, in, 0, oy, ox, ky, kx);
                    s += p;
                    as += fabs(p);
                }
            if (clamp)
                s = s < 0 ? 0 : (s > 6 ? 6 : s);
            double got = out[oy * g->ow + ox];
            if (fabs(got - s) > sum_tolerance(g->kh * g->kw, as))
                fail_msg("%s %lldx%lld k%dx%d s%d,%d d%d,%d p%d,%d at (%lld,%lld): %.9g vs %.9g",
                         name, (long long)g->ih, (long long)g->iw, g->kh, g->kw, g->sh, g->sw,
                         g->dh, g->dw, g->pt, g->pl, (long long)oy, (long long)ox, got, s);
        }
    for (size_t i = out_n; i < out_n + 8; i++)
        assert_true(out[i] == SENTINEL);
    free(in);
    free(out);
}

/* Phase planes (conv.h) of every kernel against their definition: plane
 * (ci, py, px) pixel (y, x) is the input at (y*sh + py - pt, x*sw + px - pl),
 * 0 outside; nothing written past the planes. Then phase_fill of another
 * input over those planes (the padding is left, the pixels replaced) must
 * give that input's planes. */
static void check_phase_pack(const tq_conv_dsp *dsp, const tq_conv2d_geom *g)
{
    tq_conv_phase ph;
    tq_conv_phase_init(g, &ph);
    size_t in_n = (size_t)(g->c * g->ih * g->iw), pn = tq_conv_phase_floats(g, &ph);
    float *in = malloc(in_n * sizeof(float));
    float *planes = malloc((pn + 8) * sizeof(float));
    rnd_fill(in, in_n);
    fill_sentinel(planes, pn + 8);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            dsp->phase_pack(g, &ph, in, planes);
        } else {
            rnd_fill(in, in_n);
            dsp->phase_fill(g, &ph, in, planes);
        }
        for (int64_t ci = 0; ci < g->c; ci++)
            for (int py = 0; py < g->sh; py++)
                for (int px = 0; px < g->sw; px++) {
                    if (!tq_conv_phase_used(g->kh, g->dh, g->sh, py) ||
                        !tq_conv_phase_used(g->kw, g->dw, g->sw, px))
                        continue;
                    const float *pl = planes + ((ci * g->sh + py) * g->sw + px) * ph.plane;
                    for (int64_t y = 0; y < ph.qh; y++)
                        for (int64_t x = 0; x < ph.qw; x++) {
                            int64_t iy = y * g->sh + py - g->pt, ix = x * g->sw + px - g->pl;
                            float want = iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw
                                             ? in[(ci * g->ih + iy) * g->iw + ix]
                                             : 0.0f;
                            if (pl[y * ph.qw + x] != want)
                                fail_msg("phase pack c%lld s%d,%d p%d,%d %lldx%lld: plane "
                                         "(%lld,%d,%d) at (%lld,%lld) = %g, want %g",
                                         (long long)g->c, g->sh, g->sw, g->pt, g->pl,
                                         (long long)g->ih, (long long)g->iw, (long long)ci, py, px,
                                         (long long)y, (long long)x, pl[y * ph.qw + x], want);
                        }
                }
    }
    for (size_t i = pn; i < pn + 8; i++)
        assert_true(planes[i] == SENTINEL);
    free(in);
    free(planes);
}

static void test_phase_pack(void **state)
{
    (void)state;
    tq_conv_dsp c_dsp, best;
    tq_conv_dsp_init(&c_dsp, 0);
    tq_conv_dsp_init(&best, tq_cpu_flags());
    for (int iter = 0; iter < 120; iter++) {
        tq_conv2d_geom g;
        rnd_geom(&g, rnd_int(1, 3));
        if (iter % 3 == 0) { /* the 3x3 / 1x1, stride 1 / 2 shapes of CNNs, narrow rows too */
            g.kh = g.kw = rnd_int(0, 1) ? 3 : 1;
            g.dh = g.dw = 1;
            g.sh = g.sw = rnd_int(1, 2);
            g.pt = g.pl = g.kh / 2;
            g.ih = rnd_int(1, 30);
            g.iw = rnd_int(1, 30);
            g.oh = (g.ih + 2 * g.pt - g.kh) / g.sh + 1;
            g.ow = (g.iw + 2 * g.pl - g.kw) / g.sw + 1;
        }
        check_phase_pack(&c_dsp, &g);
        check_phase_pack(&best, &g);
    }
}

/* A strip of images packed left to right into shared phase planes (conv.h,
 * tq_conv_strip) against its definition: in every plane row (ld wide) image
 * i's pixel (iy, ix) sits at strip padded x = i*slot*sw + pl + ix and every
 * other position is 0; nothing is written past the planes. Then phase_fill
 * of another batch over the same planes must give that batch's strip. */
static void check_strip_pack(const tq_conv_dsp *dsp, const tq_conv2d_geom *g, int64_t n)
{
    tq_conv_strip sp;
    if (!tq_conv_strip_init(g, n, &sp))
        return;
    const tq_conv_phase *ph = &sp.img;
    size_t img_n = (size_t)(g->c * g->ih * g->iw), pn = tq_conv_phase_floats(g, ph);
    float *in = malloc(img_n * (size_t)n * sizeof(float));
    float *planes = malloc((pn + 8) * sizeof(float));
    rnd_fill(in, img_n * (size_t)n);
    fill_sentinel(planes, pn + 8);
    int64_t w_slot = sp.slot * g->sw;
    for (int pass = 0; pass < 2; pass++) {
        /* pack, then fill another batch over it, each left to right */
        if (pass == 1)
            rnd_fill(in, img_n * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            (pass ? dsp->phase_fill : dsp->phase_pack)(g, ph, in + (size_t)i * img_n,
                                                      planes + i * sp.slot);
        for (int64_t ci = 0; ci < g->c; ci++)
            for (int py = 0; py < g->sh; py++)
                for (int px = 0; px < g->sw; px++) {
                    if (!tq_conv_phase_used(g->kh, g->dh, g->sh, py) ||
                        !tq_conv_phase_used(g->kw, g->dw, g->sw, px))
                        continue;
                    const float *pl = planes + ((ci * g->sh + py) * g->sw + px) * ph->plane;
                    for (int64_t y = 0; y < ph->qh; y++)
                        for (int64_t x = 0; x < ph->ld; x++) {
                            int64_t iy = y * g->sh + py - g->pt, sx = x * g->sw + px;
                            int64_t img = sx / w_slot, ix = sx % w_slot - g->pl;
                            float want = 0.0f;
                            if (ix < 0 && img > 0) { /* the previous image's tail */
                                img--;
                                ix += w_slot;
                            }
                            if (img < n && iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw)
                                want = in[(size_t)img * img_n +
                                          (size_t)((ci * g->ih + iy) * g->iw + ix)];
                            if (pl[y * ph->ld + x] != want)
                                fail_msg("strip pack of %lld: c%lld k%dx%d s%d,%d p%d,%d "
                                         "%lldx%lld: plane (%lld,%d,%d) at (%lld,%lld) = %g, want %g",
                                         (long long)n, (long long)g->c, g->kh, g->kw, g->sh, g->sw,
                                         g->pt, g->pl, (long long)g->ih, (long long)g->iw,
                                         (long long)ci, py, px, (long long)y, (long long)x,
                                         pl[y * ph->ld + x], want);
                        }
                }
    }
    for (size_t i = pn; i < pn + 8; i++)
        assert_true(planes[i] == SENTINEL);
    free(in);
    free(planes);
}

static void test_strip_pack(void **state)
{
    (void)state;
    tq_conv_dsp c_dsp, best;
    tq_conv_dsp_init(&c_dsp, 0);
    tq_conv_dsp_init(&best, tq_cpu_flags());
    int tested = 0;
    for (int iter = 0; iter < 150; iter++) {
        tq_conv2d_geom g;
        rnd_geom(&g, rnd_int(1, 3));
        if (iter % 2 == 0) { /* the CNN shapes: 3x3 / 1x1, stride 1 / 2, 7..28 wide */
            g.kh = g.kw = rnd_int(0, 1) ? 3 : 1;
            g.dh = g.dw = 1;
            g.sh = g.sw = rnd_int(1, 2);
            g.pt = g.pl = g.kh / 2;
            g.ih = rnd_int(1, 30);
            g.iw = rnd_int(1, 30);
            g.oh = (g.ih + 2 * g.pt - g.kh) / g.sh + 1;
            g.ow = (g.iw + 2 * g.pl - g.kw) / g.sw + 1;
        }
        int64_t n = rnd_int(1, 5);
        tq_conv_strip sp;
        tested += tq_conv_strip_init(&g, n, &sp);
        check_strip_pack(&c_dsp, &g, n);
        check_strip_pack(&best, &g, n);
    }
    assert_true(tested >= 50); /* the geometry check must not reject everything */
}

/* Junk-column drop with residual and clamp against its formula. */
static void test_conv_rows(void **state)
{
    (void)state;
    tq_conv_dsp c_dsp, best;
    tq_conv_dsp_init(&c_dsp, 0);
    tq_conv_dsp_init(&best, tq_cpu_flags());
    for (int iter = 0; iter < 200; iter++) {
        const tq_conv_dsp *dsp = iter & 1 ? &best : &c_dsp;
        int64_t ow = rnd_int(1, 33), qw = ow + rnd_int(0, 3), rows = rnd_int(1, 9);
        float *tmp = malloc(sizeof(float) * (size_t)(rows * qw));
        float *z = malloc(sizeof(float) * (size_t)(rows * ow));
        float *y = malloc(sizeof(float) * (size_t)(rows * ow + 8));
        rnd_fill(tmp, (size_t)(rows * qw));
        rnd_fill(z, (size_t)(rows * ow));
        fill_sentinel(y, (size_t)(rows * ow + 8));
        bool use_z = rnd_int(0, 1), clamp = rnd_int(0, 1);
        dsp->rows(tmp, qw, y, use_z ? z : NULL, rows, ow, clamp, -0.25f, 0.5f);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t x = 0; x < ow; x++) {
                float v = tmp[r * qw + x] + (use_z ? z[r * ow + x] : 0.0f);
                if (clamp)
                    v = v < -0.25f ? -0.25f : (v > 0.5f ? 0.5f : v);
                assert_true(y[r * ow + x] == v);
            }
        for (int64_t i = rows * ow; i < rows * ow + 8; i++)
            assert_true(y[i] == SENTINEL);
        free(tmp);
        free(z);
        free(y);
    }
}

static void test_dwconv(void **state)
{
    (void)state;
    tq_conv_dsp best;
    tq_conv_dsp_init(&best, tq_cpu_flags());
    for (int iter = 0; iter < 200; iter++) {
        tq_conv2d_geom g;
        rnd_geom(&g, 1);
        if (iter % 2 == 0) { /* the shape the AVX2 kernel specialises */
            g.kh = g.kw = 3;
            g.dh = g.dw = 1;
            g.sh = g.sw = rnd_int(1, 2);
            g.pt = rnd_int(0, 1);
            g.pl = rnd_int(0, 1);
            int pb = rnd_int(0, 1), pr = rnd_int(0, 1);
            g.ih = rnd_int(3, 40);
            g.iw = rnd_int(3, 67);
            g.oh = (g.ih + g.pt + pb - 3) / g.sh + 1;
            g.ow = (g.iw + g.pl + pr - 3) / g.sw + 1;
        }
        check_dw(tq_dwconv_c, "dwconv_c", &g);
        check_dw(best.dwconv, "dwconv_best", &g);
    }
}

/* -------------------------------------------------------------- pooling */

static void test_pooling(void **state)
{
    (void)state;
    for (int iter = 0; iter < 100; iter++) {
        tq_pool_geom g;
        memset(&g, 0, sizeof g);
        g.nd = rnd_int(1, 3);
        int64_t in_n = 1, out_n = 1;
        for (int i = 0; i < g.nd; i++) {
            g.kernel[i] = rnd_int(1, 3);
            g.stride[i] = rnd_int(1, 3);
            g.dilation[i] = rnd_int(1, 2);
            int64_t ek = (g.kernel[i] - 1) * g.dilation[i] + 1;
            g.pad_begin[i] = rnd_int(0, (int)ek - 1);
            g.pad_end[i] = rnd_int(0, (int)ek - 1);
            g.in[i] = rnd_int((int)ek, (int)ek + 9);
            g.out[i] = (g.in[i] + g.pad_begin[i] + g.pad_end[i] - ek) / g.stride[i] + 1;
            in_n *= g.in[i];
            out_n *= g.out[i];
        }
        float *in = malloc(sizeof(float) * (size_t)in_n);
        float *mx = malloc(sizeof(float) * (size_t)out_n);
        float *av = malloc(sizeof(float) * (size_t)out_n);
        rnd_fill(in, (size_t)in_n);
        bool cip = rnd_int(0, 1);
        tq_maxpool_c(&g, in, mx);
        tq_avgpool_c(&g, in, av, cip);
        /* naive: walk every output index and every window offset */
        for (int64_t o = 0; o < out_n; o++) {
            int64_t oi[3], rem = o;
            for (int d = g.nd - 1; d >= 0; d--) {
                oi[d] = rem % g.out[d];
                rem /= g.out[d];
            }
            int64_t wn = 1;
            for (int d = 0; d < g.nd; d++)
                wn *= g.kernel[d];
            double m = -INFINITY, s = 0;
            int64_t cnt = 0, cnt_pad = 0;
            for (int64_t t = 0; t < wn; t++) {
                int64_t tr = t, idx = 0;
                bool inside = true, in_padded = true;
                for (int d = g.nd - 1; d >= 0; d--) {
                    int64_t kt = tr % g.kernel[d];
                    tr /= g.kernel[d];
                    int64_t p = oi[d] * g.stride[d] - g.pad_begin[d] + kt * g.dilation[d];
                    if (p < 0 || p >= g.in[d])
                        inside = false;
                    if (p >= g.in[d] + g.pad_end[d])
                        in_padded = false;
                    int64_t mul = 1;
                    for (int e = d + 1; e < g.nd; e++)
                        mul *= g.in[e];
                    idx += p * mul;
                }
                cnt_pad += in_padded;
                if (inside) {
                    m = in[idx] > m ? in[idx] : m;
                    s += in[idx];
                    cnt++;
                }
            }
            assert_true(mx[o] == (float)m);
            double want = s / (double)(cip ? cnt_pad : cnt);
            assert_true(fabs(av[o] - want) <= sum_tolerance(cnt + 1, fabs(want) + 1));
        }
        free(in);
        free(mx);
        free(av);
    }
    float x[2 * 7], y[2];
    rnd_fill(x, 14);
    tq_global_avgpool_c(x, 2, 7, y);
    for (int p = 0; p < 2; p++) {
        double s = 0;
        for (int i = 0; i < 7; i++)
            s += x[p * 7 + i];
        assert_true(fabs(y[p] - s / 7) <= sum_tolerance(8, 7));
    }
}

/* ------------------------------------------------------------ benchmark */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double bench_gemm(const tq_sgemm_dsp *dsp, int64_t m, int64_t n, int64_t k)
{
    float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
    float *c = malloc(sizeof(float) * (size_t)(m * n));
    float *pb = malloc(sizeof(float) * tq_sgemm_packed_b_floats(k, n));
    rnd_fill(a, (size_t)(m * k));
    rnd_fill(b, (size_t)(k * n));
    tq_sgemm_pack_b(b, n, 1, k, n, pb);
    tq_sgemm_post post = { .alpha = 1.0f, .clamp = true, .lo = 0.0f, .hi = INFINITY };
    int reps = 0;
    double t0 = now_s(), t;
    do {
        tq_sgemm(dsp, m, n, k, a, k, pb, 0, true, c, n, &post);
        reps++;
        t = now_s() - t0;
    } while (t < 0.2);
    free(a);
    free(b);
    free(c);
    free(pb);
    return 2.0 * m * n * k * reps / t * 1e-9;
}

static int run_bench(void)
{
    tq_sgemm_dsp c_dsp, best;
    tq_sgemm_dsp_init(&c_dsp, 0);
    tq_sgemm_dsp_init(&best, tq_cpu_flags());
    static const int64_t sizes[][3] = {
        { 16, 50176, 144 }, /* learned_filter 3x3 conv at 224x224 */
        { 32, 784, 144 },   /* ResNet8 stage 2 conv */
        { 64, 196, 576 },   /* ResNet8 stage 3 conv */
        { 64, 64, 64 },     { 1, 64, 6 }, /* MLP layer, batch 1 */
        { 64, 64, 128 },
    };
    printf("%-22s %10s %10s\n", "sgemm m x n x k", "C GF/s", "best GF/s");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "%lldx%lldx%lld", (long long)sizes[i][0],
                 (long long)sizes[i][1], (long long)sizes[i][2]);
        printf("%-22s %10.2f %10.2f\n", label, bench_gemm(&c_dsp, sizes[i][0], sizes[i][1], sizes[i][2]),
               bench_gemm(&best, sizes[i][0], sizes[i][1], sizes[i][2]));
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return run_bench();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_vs_double),
        cmocka_unit_test(test_sgemm_tile_avx2_vs_c),
        cmocka_unit_test(test_im2col_pack),
        cmocka_unit_test(test_phase_pack),
        cmocka_unit_test(test_strip_pack),
        cmocka_unit_test(test_conv_rows),
        cmocka_unit_test(test_dwconv),
        cmocka_unit_test(test_pooling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
