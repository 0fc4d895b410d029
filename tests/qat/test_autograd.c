/* Gradient checks of every autograd backward kernel: the double kernels'
 * analytic gradients against central finite differences of a random linear
 * functional L = sum(r * y) (r random), and the float kernels (the ones
 * training runs, sgemm underneath) against the double ones.
 *
 * Tolerance: central differences with step h have truncation error O(h^2 *
 * f''') and rounding error O(eps_double * |L| / h); with h = 1e-5 and O(1)
 * values both are ~1e-10, so 1e-6 relative is a real test. The float kernels
 * are compared normwise at 1e-4 (sums of <= a few hundred float terms). Relu
 * and fake quantisation are piecewise linear: inputs are kept away from the
 * kinks (|x| >= 0.05, levels not at half-steps) so the differences are exact
 * within each piece. */
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "train/autograd_kernels.h"
#include "util/pcg64.h"

static tq_pcg64 rng;

static double *rnd(int64_t n, double lo, double hi)
{
    double *v = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        v[i] = lo + (hi - lo) * tq_pcg64_random_double(&rng);
        if (fabs(v[i]) < 0.05) /* keep away from the Relu kink at 0 */
            v[i] = v[i] < 0 ? -0.05 - v[i] : 0.05 + v[i];
    }
    return v;
}

static float *to_f(const double *d, int64_t n)
{
    float *f = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)d[i];
    return f;
}

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* A forward function of a parameter vector x (others captured in ctx). */
typedef void (*fwd_fn)(void *ctx, double *y);

/* Check grad (analytic dL/dx for L = r.y) against central differences on x. */
static void check_fd(void *ctx, fwd_fn f, double *x, int64_t nx, const double *r, int64_t ny,
                     const double *grad, const char *what)
{
    double *y = malloc((size_t)ny * sizeof(double));
    const double h = 1e-5;
    double max_err = 0, max_g = 0;
    for (int64_t i = 0; i < nx; i++) {
        double keep = x[i];
        x[i] = keep + h;
        f(ctx, y);
        double lp = dot(r, y, ny);
        x[i] = keep - h;
        f(ctx, y);
        double lm = dot(r, y, ny);
        x[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double e = fabs(fd - grad[i]);
        max_err = e > max_err ? e : max_err;
        max_g = fabs(grad[i]) > max_g ? fabs(grad[i]) : max_g;
    }
    free(y);
    if (max_err > 1e-6 * (max_g > 1 ? max_g : 1))
        fail_msg("%s: finite differences differ by %g (max |grad| %g)", what, max_err, max_g);
}

static void check_close_f(const float *f, const double *d, int64_t n, const char *what)
{
    double me = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        me = fmax(me, fabs((double)f[i] - d[i]));
        mx = fmax(mx, fabs(d[i]));
    }
    if (me > 1e-4 * (mx > 1 ? mx : 1))
        fail_msg("%s: float kernel differs from double by %g (max %g)", what, me, mx);
}

/* ---- Conv */
typedef struct conv_ctx {
    tq_agk_conv g;
    double *x, *w, *b, *col;
} conv_ctx;

static void conv_f(void *c, double *y)
{
    conv_ctx *k = c;
    tq_agk_conv_fwd_d(&k->g, k->x, k->w, k->b, y, k->col);
}

static void run_conv(tq_agk_conv g)
{
    int64_t nx = g.n * g.c * g.h * g.w, nw = g.m * (g.c / g.group) * g.kh * g.kw;
    int64_t ny = g.n * g.m * g.oh * g.ow;
    conv_ctx k = {g, rnd(nx, -1, 1), rnd(nw, -1, 1), rnd(g.m, -1, 1), NULL};
    k.col = malloc((size_t)tq_agk_conv_col_size(&g) * sizeof(double));
    double *r = rnd(ny, -1, 1), *dy = r;
    double *dx = calloc((size_t)nx, sizeof(double)), *dw = calloc((size_t)nw, sizeof(double));
    double *db = calloc((size_t)g.m, sizeof(double));
    tq_agk_conv_bwd_d(&g, k.x, k.w, dy, dx, dw, db, k.col);
    check_fd(&k, conv_f, k.x, nx, r, ny, dx, "conv dx");
    check_fd(&k, conv_f, k.w, nw, r, ny, dw, "conv dw");
    check_fd(&k, conv_f, k.b, g.m, r, ny, db, "conv db");

    /* float kernels against double */
    float *xf = to_f(k.x, nx), *wf = to_f(k.w, nw), *bf = to_f(k.b, g.m), *dyf = to_f(dy, ny);
    float *yf = malloc((size_t)ny * sizeof(float));
    float *colf = malloc((size_t)tq_agk_conv_col_size(&g) * sizeof(float));
    double *yd = malloc((size_t)ny * sizeof(double));
    tq_agk_conv_fwd_f(&g, xf, wf, bf, yf, colf);
    conv_f(&k, yd);
    check_close_f(yf, yd, ny, "conv y");
    float *dxf = calloc((size_t)nx, sizeof(float)), *dwf = calloc((size_t)nw, sizeof(float));
    float *dbf = calloc((size_t)g.m, sizeof(float));
    tq_agk_conv_bwd_f(&g, xf, wf, dyf, dxf, dwf, dbf, colf);
    check_close_f(dxf, dx, nx, "conv dx");
    check_close_f(dwf, dw, nw, "conv dw");
    check_close_f(dbf, db, g.m, "conv db");
    free(xf), free(wf), free(bf), free(dyf), free(yf), free(colf), free(yd);
    free(dxf), free(dwf), free(dbf);
    free(k.x), free(k.w), free(k.b), free(k.col), free(r), free(dx), free(dw), free(db);
}

static tq_agk_conv geom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int64_t kh,
                        int64_t kw, int64_t group, int64_t pt, int64_t pl, int64_t pb,
                        int64_t pr, int64_t s, int64_t d)
{
    tq_agk_conv g = {.n = n, .c = c, .h = h, .w = w, .m = m, .kh = kh, .kw = kw, .group = group,
                     .pad_t = pt, .pad_l = pl, .sh = s, .sw = s, .dh = d, .dw = d};
    g.oh = (h + pt + pb - ((kh - 1) * d + 1)) / s + 1;
    g.ow = (w + pl + pr - ((kw - 1) * d + 1)) / s + 1;
    return g;
}

static void test_conv(void **state)
{
    (void)state;
    run_conv(geom(2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1));   /* 3x3 same padding */
    run_conv(geom(1, 4, 7, 7, 6, 3, 3, 2, 1, 0, 1, 2, 2, 1));   /* groups, stride 2, asym pads */
    run_conv(geom(2, 4, 6, 6, 4, 3, 3, 4, 1, 1, 1, 1, 1, 2));   /* depthwise, dilation 2 */
    run_conv(geom(1, 3, 5, 5, 5, 1, 1, 1, 0, 0, 0, 0, 2, 1));   /* 1x1 stride 2 shortcut */
}

/* ---- Gemm */
typedef struct gemm_ctx {
    int ta, tb;
    int64_t M, N, K, cm, cn;
    double alpha, beta;
    double *A, *B, *C;
} gemm_ctx;

static void gemm_f(void *c, double *y)
{
    gemm_ctx *k = c;
    tq_agk_gemm_op_fwd_d(k->ta, k->tb, k->M, k->N, k->K, k->alpha, k->beta, k->A, k->B, k->C,
                         k->cm, k->cn, y);
}

static void run_gemm(int ta, int tb, int64_t cm, int64_t cn, double alpha, double beta)
{
    gemm_ctx k = {ta, tb, 3, 5, 4, cm, cn, alpha, beta, NULL, NULL, NULL};
    int64_t na = k.M * k.K, nb = k.K * k.N, nc = cm * cn, ny = k.M * k.N;
    k.A = rnd(na, -1, 1), k.B = rnd(nb, -1, 1), k.C = rnd(nc, -1, 1);
    double *r = rnd(ny, -1, 1);
    double *dA = calloc((size_t)na, sizeof(double)), *dB = calloc((size_t)nb, sizeof(double));
    double *dC = calloc((size_t)nc, sizeof(double));
    tq_agk_gemm_op_bwd_d(ta, tb, k.M, k.N, k.K, alpha, beta, k.A, k.B, cm, cn, r, dA, dB, dC);
    check_fd(&k, gemm_f, k.A, na, r, ny, dA, "gemm dA");
    check_fd(&k, gemm_f, k.B, nb, r, ny, dB, "gemm dB");
    check_fd(&k, gemm_f, k.C, nc, r, ny, dC, "gemm dC");
    float *Af = to_f(k.A, na), *Bf = to_f(k.B, nb), *Cf = to_f(k.C, nc), *rf = to_f(r, ny);
    float *yf = malloc((size_t)ny * sizeof(float));
    double *yd = malloc((size_t)ny * sizeof(double));
    tq_agk_gemm_op_fwd_f(ta, tb, k.M, k.N, k.K, (float)alpha, (float)beta, Af, Bf, Cf, cm, cn, yf);
    gemm_f(&k, yd);
    check_close_f(yf, yd, ny, "gemm y");
    float *dAf = calloc((size_t)na, sizeof(float)), *dBf = calloc((size_t)nb, sizeof(float));
    float *dCf = calloc((size_t)nc, sizeof(float));
    tq_agk_gemm_op_bwd_f(ta, tb, k.M, k.N, k.K, (float)alpha, (float)beta, Af, Bf, cm, cn, rf,
                         dAf, dBf, dCf);
    check_close_f(dAf, dA, na, "gemm dA");
    check_close_f(dBf, dB, nb, "gemm dB");
    check_close_f(dCf, dC, nc, "gemm dC");
    free(Af), free(Bf), free(Cf), free(rf), free(yf), free(yd), free(dAf), free(dBf), free(dCf);
    free(k.A), free(k.B), free(k.C), free(r), free(dA), free(dB), free(dC);
}

static void test_gemm(void **state)
{
    (void)state;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            run_gemm(ta, tb, 1, 5, 1.0, 1.0);   /* bias row (the exporters' form) */
            run_gemm(ta, tb, 3, 5, 0.5, 2.0);   /* full C, alpha/beta */
            run_gemm(ta, tb, 3, 1, 1.5, -1.0);  /* column C */
            run_gemm(ta, tb, 1, 1, 1.0, 0.5);   /* scalar C */
        }
}

/* ---- broadcasting binary ops */
typedef struct bin_ctx {
    tq_agk_binop op;
    tq_agk_bcast p;
    double *a, *b;
} bin_ctx;

static void bin_f(void *c, double *y)
{
    bin_ctx *k = c;
    tq_agk_binary_fwd_d(k->op, &k->p, k->a, k->b, y);
}

static void test_binary(void **state)
{
    (void)state;
    const int64_t shapes[][2][4] = {
        {{2, 3, 4, 1}, {3, 1, 5, 0}},   /* [2,3,4,1] op [3,1,5]: both broadcast */
        {{4, 5, 0, 0}, {5, 0, 0, 0}},   /* per-feature constant (scaler Sub/Div) */
        {{2, 3, 2, 2}, {2, 3, 2, 2}},   /* same shape (residual Add) */
    };
    const int ranks[][2] = {{4, 3}, {2, 1}, {4, 4}};
    for (int s = 0; s < 3; s++)
        for (int op = TQ_AGK_ADD; op <= TQ_AGK_DIV; op++) {
            bin_ctx k = {(tq_agk_binop)op, {0}, NULL, NULL};
            assert_int_equal(tq_agk_bcast_plan(&k.p, shapes[s][0], ranks[s][0], shapes[s][1],
                                               ranks[s][1]), 0);
            int64_t na = 1, nb = 1;
            for (int d = 0; d < ranks[s][0]; d++)
                na *= shapes[s][0][d];
            for (int d = 0; d < ranks[s][1]; d++)
                nb *= shapes[s][1][d];
            k.a = rnd(na, -1, 1);
            k.b = rnd(nb, 0.5, 1.5); /* away from 0 for Div */
            double *r = rnd(k.p.numel, -1, 1);
            double *da = calloc((size_t)na, sizeof(double)), *db = calloc((size_t)nb, sizeof(double));
            tq_agk_binary_bwd_d(k.op, &k.p, k.a, k.b, r, da, db);
            check_fd(&k, bin_f, k.a, na, r, k.p.numel, da, "binary da");
            check_fd(&k, bin_f, k.b, nb, r, k.p.numel, db, "binary db");
            free(k.a), free(k.b), free(r), free(da), free(db);
        }
    tq_agk_bcast p;
    const int64_t a[2] = {3, 4}, b[2] = {2, 4};
    assert_int_equal(tq_agk_bcast_plan(&p, a, 2, b, 2), -1);
}

/* ---- Relu, GlobalAveragePool, Concat, fake quant: small contexts */
typedef struct un_ctx {
    int kind;
    int64_t n, nc, hw;
    double *x, *x2;
    double scale[3], zp[3];
} un_ctx;

static void un_f(void *c, double *y)
{
    un_ctx *k = c;
    switch (k->kind) {
    case 0: tq_agk_relu_fwd_d(k->n, k->x, y); break;
    case 1: tq_agk_gap_fwd_d(k->nc, k->hw, k->x, y); break;
    case 2: {
        const double *xs[2] = {k->x, k->x2};
        const int64_t inner[2] = {6, 4};
        tq_agk_concat_fwd_d(2, 3, inner, xs, y);
        break;
    }
    case 3: tq_agk_fakeq_fwd_d(2, 3, 4, k->x, k->scale, k->zp, -128, 127, y); break;
    case 4: tq_agk_clip_fwd_d(k->n, k->x, -0.7, 0.9, y); break;
    }
}

static void test_pointwise(void **state)
{
    (void)state;
    un_ctx k = {0};
    /* Relu */
    k.kind = 0, k.n = 40, k.x = rnd(40, -1, 1);
    double *r = rnd(40, -1, 1), *dx = calloc(40, sizeof(double));
    tq_agk_relu_bwd_d(40, k.x, r, dx);
    check_fd(&k, un_f, k.x, 40, r, 40, dx, "relu");
    free(k.x), free(r), free(dx);
    /* Clip to [-0.7, 0.9]: x spans [-1.6, 1.6] so both the pass-through and
     * the clamped pieces are exercised; x is kept 0.01 away from the ends
     * (the kinks) so +-h stays in one piece. */
    k.kind = 4, k.n = 60, k.x = rnd(60, -1.6, 1.6);
    int clamped = 0, passed = 0;
    for (int i = 0; i < 60; i++) {
        if (fabs(k.x[i] + 0.7) < 0.01 || fabs(k.x[i] - 0.9) < 0.01)
            k.x[i] += 0.02;
        bool in = k.x[i] >= -0.7 && k.x[i] <= 0.9;
        clamped += !in, passed += in;
    }
    assert_true(clamped > 0 && passed > 0);
    r = rnd(60, -1, 1), dx = calloc(60, sizeof(double));
    tq_agk_clip_bwd_d(60, k.x, -0.7, 0.9, r, dx);
    check_fd(&k, un_f, k.x, 60, r, 60, dx, "clip");
    double yc[60];
    un_f(&k, yc); /* forward against the definition */
    for (int i = 0; i < 60; i++)
        assert_true(yc[i] == fmin(fmax(k.x[i], -0.7), 0.9));
    free(k.x), free(r), free(dx);
    /* GlobalAveragePool: 6 channels of 5x4 */
    k.kind = 1, k.nc = 6, k.hw = 20, k.x = rnd(120, -1, 1);
    r = rnd(6, -1, 1), dx = calloc(120, sizeof(double));
    tq_agk_gap_bwd_d(6, 20, r, dx);
    check_fd(&k, un_f, k.x, 120, r, 6, dx, "gap");
    free(k.x), free(r), free(dx);
    /* Concat of [3,6] and [3,4] on axis 1 */
    k.kind = 2, k.x = rnd(18, -1, 1), k.x2 = rnd(12, -1, 1);
    r = rnd(30, -1, 1);
    double *dx1 = calloc(18, sizeof(double)), *dx2 = calloc(12, sizeof(double));
    double *dxs[2] = {dx1, dx2};
    const int64_t inner[2] = {6, 4};
    tq_agk_concat_bwd_d(2, 3, inner, r, dxs);
    check_fd(&k, un_f, k.x, 18, r, 30, dx1, "concat x1");
    check_fd(&k, un_f, k.x2, 12, r, 30, dx2, "concat x2");
    free(k.x), free(k.x2), free(r), free(dx1), free(dx2);
    /* Fake quant, 3 channels: straight-through inside the range, 0 outside.
     * Channel 0 (step 0.005) saturates most of [-1.6, 1.6], the others little; x is put on level
     * centres so +-h stays on one level: the STE gradient is a definition,
     * not a derivative, so we check it against its definition instead. */
    k.kind = 3;
    k.scale[0] = 0.005, k.scale[1] = 0.02, k.scale[2] = 0.05;
    k.zp[0] = 3, k.zp[1] = 0, k.zp[2] = -5;
    k.x = rnd(24, -1.6, 1.6);
    r = rnd(24, -1, 1), dx = calloc(24, sizeof(double));
    tq_agk_fakeq_bwd_d(2, 3, 4, k.x, k.scale, k.zp, -128, 127, r, dx);
    int inside = 0, outside = 0;
    for (int o = 0; o < 2; o++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 4; i++) {
                int idx = (o * 3 + c) * 4 + i;
                double q = rint(k.x[idx] / k.scale[c]) + k.zp[c];
                bool in = q >= -128 && q <= 127;
                assert_true(fabs(dx[idx] - (in ? r[idx] : 0.0)) < 1e-15);
                inside += in, outside += !in;
            }
    assert_true(inside > 0 && outside > 0); /* both branches exercised */
    double y[24];
    un_f(&k, y);
    for (int i = 0; i < 24; i++) /* dequantised values sit on the grid */
        assert_true(fabs(y[i] / k.scale[(i / 4) % 3] - rint(y[i] / k.scale[(i / 4) % 3])) < 1e-9);
    free(k.x), free(r), free(dx);
}

/* ---- losses: gradients of the loss itself */
typedef struct loss_ctx {
    int xent; /* 0 mse, 1 cross-entropy, 2 centered mse */
    double *y, *t;
    int64_t lab[4];
} loss_ctx;

static void loss_f(void *c, double *out)
{
    loss_ctx *k = c;
    out[0] = k->xent == 1   ? tq_agk_xent_d(4, 5, k->y, k->lab, NULL)
             : k->xent == 2 ? tq_agk_mse_centered_d(20, k->y, k->t, NULL)
                            : tq_agk_mse_d(20, k->y, k->t, NULL);
}

static void test_losses(void **state)
{
    (void)state;
    double one = 1.0;
    loss_ctx k = {0, rnd(20, -2, 2), rnd(20, -2, 2), {1, 4, 0, 2}};
    double dy[20];
    tq_agk_mse_d(20, k.y, k.t, dy);
    check_fd(&k, loss_f, k.y, 20, &one, 1, dy, "mse");
    k.xent = 2;
    tq_agk_mse_centered_d(20, k.y, k.t, dy);
    check_fd(&k, loss_f, k.y, 20, &one, 1, dy, "centered mse");
    { /* blind to a constant offset, and equal to numpy's np.var(y - t) */
        double sh[20], e[20], m = 0, v = 0;
        for (int i = 0; i < 20; i++)
            sh[i] = k.y[i] + 3.25, e[i] = k.y[i] - k.t[i], m += e[i] / 20;
        for (int i = 0; i < 20; i++)
            v += (e[i] - m) * (e[i] - m) / 20;
        double a = tq_agk_mse_centered_d(20, k.y, k.t, NULL), b = tq_agk_mse_centered_d(20, sh, k.t, NULL);
        assert_true(fabs(a - b) < 1e-12 && fabs(a - v) < 1e-12 && a < tq_agk_mse_d(20, k.y, k.t, NULL));
    }
    k.xent = 1;
    tq_agk_xent_d(4, 5, k.y, k.lab, dy);
    check_fd(&k, loss_f, k.y, 20, &one, 1, dy, "cross-entropy");
    /* numpy-free reference value: log-sum-exp by hand for row 0 */
    double s = 0;
    for (int j = 0; j < 5; j++)
        s += exp(k.y[j]);
    double l0 = log(s) - k.y[1];
    double ref = l0;
    for (int r = 1; r < 4; r++) {
        s = 0;
        for (int j = 0; j < 5; j++)
            s += exp(k.y[r * 5 + j]);
        ref += log(s) - k.y[r * 5 + k.lab[r]];
    }
    assert_true(fabs(tq_agk_xent_d(4, 5, k.y, k.lab, NULL) - ref / 4) < 1e-12);
    free(k.y), free(k.t);
}

int main(void)
{
    tq_pcg64_seed(&rng, 20240611);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv),     cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_binary),   cmocka_unit_test(test_pointwise),
        cmocka_unit_test(test_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
