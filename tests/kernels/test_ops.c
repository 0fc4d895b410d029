/* Tests of the compute ops (Gemm, MatMul, Conv, FusedConv, ConvTranspose,
 * pools, BatchNormalization) run through their prepare/eval interface and
 * compared with naive double-precision loops written here from the ONNX
 * operator definitions. Shape errors must fail cleanly with named tensors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "checkasm.h"
#include "op_harness.h"

static float *rnd_buf(int64_t n)
{
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    rnd_fill(p, (size_t)n);
    return p;
}

static void expect_close(const float *got, const double *want, const double *abs_sum,
                         int64_t n, int64_t terms, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= sum_tolerance(terms, abs_sum[i])))
            fail_msg("%s: element %lld is %.9g, want %.9g (tol %.3g)", what, (long long)i,
                     got[i], want[i], sum_tolerance(terms, abs_sum[i]));
}

/* ----------------------------------------------------------------- Conv */

typedef struct conv_cfg {
    int64_t n, c, h, w, m, group, kh, kw, sh, sw, dh, dw;
    int64_t pads[4];        /* top, left, bottom, right (NOTSET) */
    const char *auto_pad;   /* NULL = NOTSET */
    bool bias, const_w, one_d;
    const char *act;        /* FusedConv activation or NULL */
} conv_cfg;

static void check_conv(const conv_cfg *k)
{
    int64_t xd[4] = { k->n, k->c, k->h, k->w }, wd[4] = { k->m, k->c / k->group, k->kh, k->kw };
    int64_t xn = k->n * k->c * k->h * k->w, wn = k->m * (k->c / k->group) * k->kh * k->kw;
    float *x = rnd_buf(xn), *w = rnd_buf(wn), *b = rnd_buf(k->m);
    int rank = 4;
    if (k->one_d) { /* [N, C, W] */
        xd[2] = k->w;
        wd[2] = k->kw;
        rank = 3;
    }
    tq_value vx = make_value("x", rank, xd, x, false), vw = make_value("w", rank, wd, w, k->const_w);
    int64_t bd[1] = { k->m };
    tq_value vb = make_value("b", 1, bd, b, true);
    tq_value *in[3] = { &vx, &vw, &vb };
    int64_t strides[2] = { k->sh, k->sw }, dil[2] = { k->dh, k->dw };
    int64_t pads[4] = { k->pads[0], k->pads[1], k->pads[2], k->pads[3] };
    int64_t pads1[2] = { k->pads[1], k->pads[3] };
    float clip[2] = { -0.5f, 0.5f };
    op_attr_spec at[8];
    int na = 0;
    at[na++] = (op_attr_spec)ATTR_INT("group", k->group);
    at[na++] = (op_attr_spec)ATTR_INTS("strides", k->one_d ? 1 : 2, k->one_d ? strides + 1 : strides);
    at[na++] = (op_attr_spec)ATTR_INTS("dilations", k->one_d ? 1 : 2, k->one_d ? dil + 1 : dil);
    if (k->auto_pad)
        at[na++] = (op_attr_spec)ATTR_STR("auto_pad", k->auto_pad);
    else
        at[na++] = (op_attr_spec)ATTR_INTS("pads", k->one_d ? 2 : 4, k->one_d ? pads1 : pads);
    if (k->act) {
        at[na++] = (op_attr_spec)ATTR_STR("activation", k->act);
        if (strcmp(k->act, "Clip") == 0)
            at[na++] = (op_attr_spec)ATTR_FLOATS("activation_params", 2, clip);
    }
    tq_value y;
    tq_error err;
    int rc = run_op(k->act ? "com.microsoft" : "", k->act ? "FusedConv" : "Conv", at, na, in,
                    k->bias ? 3 : 2, &y, 13, &err);
    if (rc)
        fail_msg("Conv failed: %s", err.msg);

    /* expected geometry, straight from the ONNX Conv definition */
    int64_t h = k->one_d ? 1 : k->h, kh = k->one_d ? 1 : k->kh, sh = k->one_d ? 1 : k->sh;
    int64_t dh = k->one_d ? 1 : k->dh;
    int64_t pt = k->one_d ? 0 : k->pads[0], pl = k->pads[1], pb = k->one_d ? 0 : k->pads[2],
            pr = k->pads[3];
    int64_t ekh = (kh - 1) * dh + 1, ekw = (k->kw - 1) * k->dw + 1;
    int64_t oh, ow;
    if (k->auto_pad && strncmp(k->auto_pad, "SAME", 4) == 0) {
        oh = (h + sh - 1) / sh;
        ow = (k->w + k->sw - 1) / k->sw;
        int64_t th = (oh - 1) * sh + ekh - h, tw = (ow - 1) * k->sw + ekw - k->w;
        th = th < 0 ? 0 : th;
        tw = tw < 0 ? 0 : tw;
        bool upper = strcmp(k->auto_pad, "SAME_UPPER") == 0;
        pt = upper ? th / 2 : th - th / 2;
        pl = upper ? tw / 2 : tw - tw / 2;
    } else if (k->auto_pad) { /* VALID */
        pt = pl = pb = pr = 0;
        oh = (h - ekh) / sh + 1;
        ow = (k->w - ekw) / k->sw + 1;
    } else {
        oh = (h + pt + pb - ekh) / sh + 1;
        ow = (k->w + pl + pr - ekw) / k->sw + 1;
    }
    assert_int_equal(y.rank, rank);
    assert_int_equal(y.dims[0], k->n);
    assert_int_equal(y.dims[1], k->m);
    assert_int_equal(y.dims[rank - 1], ow);
    if (!k->one_d)
        assert_int_equal(y.dims[2], oh);
    int64_t yn = k->n * k->m * oh * ow, cg = k->c / k->group, mg = k->m / k->group;
    double *want = malloc(sizeof(double) * (size_t)yn), *as = malloc(sizeof(double) * (size_t)yn);
    for (int64_t n = 0; n < k->n; n++)
        for (int64_t m = 0; m < k->m; m++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t g = m / mg;
                    double s = k->bias ? b[m] : 0, a = fabs(s);
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ky = 0; ky < kh; ky++)
                            for (int64_t kx = 0; kx < k->kw; kx++) {
                                int64_t iy = oy * sh - pt + ky * dh;
                                int64_t ix = ox * k->sw - pl + kx * k->dw;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= k->w)
                                    continue;
                                double p = (double)x[((n * k->c + g * cg + ci) * h + iy) * k->w + ix] *
                                           w[((m * cg + ci) * kh + ky) * k->kw + kx];
                                s += p;
                                a += fabs(p);
                            }
                    if (k->act && strcmp(k->act, "Relu") == 0)
                        s = s < 0 ? 0 : s;
                    if (k->act && strcmp(k->act, "Clip") == 0)
                        s = s < -0.5 ? -0.5 : (s > 0.5 ? 0.5 : s);
                    int64_t o = ((n * k->m + m) * oh + oy) * ow + ox;
                    want[o] = s;
                    as[o] = a;
                }
    expect_close(y.data, want, as, yn, cg * kh * k->kw, "Conv");
    free(want);
    free(as);
    free(y.data);
    free(x);
    free(w);
    free(b);
}

static void test_conv_cases(void **state)
{
    (void)state;
    static const conv_cfg cases[] = {
        /* ResNet8-style: 3x3 pad 1, stride 2 downsampling, 1x1 shortcut */
        { 1, 16, 28, 28, 16, 1, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, NULL },
        { 2, 16, 28, 28, 32, 1, 3, 3, 2, 2, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, "Relu" },
        { 2, 16, 28, 28, 32, 1, 1, 1, 2, 2, 1, 1, { 0, 0, 0, 0 }, NULL, false, true, false, NULL },
        { 1, 32, 14, 14, 64, 1, 1, 1, 1, 1, 1, 1, { 0, 0, 0, 0 }, NULL, true, false, false, NULL },
        /* depthwise 3x3 stride 1 and 2 with Clip (MobileNet) */
        { 1, 8, 17, 23, 8, 8, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, "Clip" },
        { 2, 8, 18, 31, 8, 8, 3, 3, 2, 2, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, NULL },
        { 1, 4, 9, 9, 8, 4, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, NULL },
        /* odd shapes: asymmetric pads, dilation, grouped, SAME_*, VALID, 1-D */
        { 1, 3, 7, 5, 5, 1, 3, 2, 2, 1, 1, 1, { 1, 0, 0, 1 }, NULL, true, true, false, NULL },
        { 1, 6, 11, 13, 4, 2, 3, 3, 1, 2, 2, 1, { 2, 1, 0, 2 }, NULL, true, false, false, NULL },
        { 1, 3, 8, 9, 7, 1, 4, 3, 2, 3, 1, 1, { 0 }, "SAME_UPPER", true, true, false, NULL },
        { 1, 3, 8, 9, 7, 1, 4, 3, 2, 3, 1, 1, { 0 }, "SAME_LOWER", false, true, false, NULL },
        { 1, 3, 8, 9, 7, 1, 2, 3, 1, 2, 1, 2, { 0 }, "VALID", true, true, false, NULL },
        /* odd total padding: SAME_UPPER puts the extra row/column at the end */
        { 1, 3, 8, 9, 7, 1, 4, 2, 1, 1, 1, 1, { 0 }, "SAME_UPPER", true, true, false, NULL },
        { 1, 3, 8, 9, 7, 1, 4, 2, 1, 1, 1, 1, { 0 }, "SAME_LOWER", true, true, false, NULL },
        { 2, 5, 1, 40, 6, 1, 1, 5, 1, 2, 1, 1, { 0, 2, 0, 1 }, NULL, true, true, true, NULL },
        { 1, 1, 30, 29, 16, 1, 3, 3, 2, 2, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, "Clip" },
        /* batches: several images per strip GEMM (tq_conv_strip), strips
         * of uneven size, stride 2 and 3, dilation, asymmetric pads, 1-D */
        { 5, 16, 28, 28, 16, 1, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, "Relu" },
        { 7, 32, 14, 14, 64, 1, 3, 3, 2, 2, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, NULL },
        { 6, 16, 14, 14, 32, 1, 1, 1, 2, 2, 1, 1, { 0, 0, 0, 0 }, NULL, true, true, false, NULL },
        { 4, 3, 9, 11, 5, 1, 3, 3, 3, 3, 1, 1, { 2, 0, 1, 2 }, NULL, true, true, false, NULL },
        { 3, 6, 11, 13, 4, 1, 3, 3, 1, 2, 2, 2, { 2, 1, 0, 2 }, NULL, true, false, false, "Clip" },
        { 5, 3, 8, 9, 7, 1, 4, 3, 2, 3, 1, 1, { 0 }, "SAME_UPPER", true, true, false, NULL },
        { 3, 5, 1, 40, 6, 1, 1, 5, 1, 2, 1, 1, { 0, 2, 0, 1 }, NULL, true, true, true, NULL },
        { 9, 40, 7, 7, 8, 1, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, NULL },
        /* phase planes over 256 KiB: packed into the shared scratch each run */
        { 2, 8, 100, 100, 4, 1, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, "Relu" },
        /* K > KC exercises K blocking; > 1 im2col block */
        { 1, 40, 12, 12, 6, 1, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, NULL },
        { 1, 2, 120, 130, 3, 1, 3, 3, 1, 1, 1, 1, { 1, 1, 1, 1 }, NULL, true, true, false, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv(&cases[i]);
}

static void test_conv_errors(void **state)
{
    (void)state;
    int64_t xd[4] = { 1, 3, 8, 8 }, wd[4] = { 4, 2, 3, 3 };
    float x[192] = { 0 }, w[72] = { 0 };
    tq_value vx = make_value("image", 4, xd, x, false), vw = make_value("weights", 4, wd, w, true);
    tq_value *in[2] = { &vx, &vw };
    tq_value y;
    tq_error err;
    assert_int_equal(run_op("", "Conv", NULL, 0, in, 2, &y, 13, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "image"));
    assert_non_null(strstr(err.msg, "weights"));
    assert_non_null(strstr(err.msg, "test_node"));
    int64_t xd5[5] = { 1, 2, 4, 4, 4 }, wd5[5] = { 1, 2, 1, 1, 1 };
    tq_value v5 = make_value("vol", 5, xd5, x, false), w5 = make_value("w5", 5, wd5, w, true);
    tq_value *in5[2] = { &v5, &w5 };
    assert_int_equal(run_op("", "Conv", NULL, 0, in5, 2, &y, 13, &err), TQ_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "rank 5"));
}

/* --------------------------------------------------------- ConvTranspose */

static void check_convt(int64_t n, int64_t c, int64_t h, int64_t w_, int64_t mg, int64_t group,
                        int64_t kh, int64_t kw, int64_t s, int64_t d, const int64_t *pads,
                        const int64_t *outpad, bool const_w)
{
    int64_t xd[4] = { n, c, h, w_ }, wd[4] = { c, mg, kh, kw }, bd[1] = { mg * group };
    float *x = rnd_buf(n * c * h * w_), *w = rnd_buf(c * mg * kh * kw), *b = rnd_buf(mg * group);
    tq_value vx = make_value("x", 4, xd, x, false), vw = make_value("w", 4, wd, w, const_w);
    tq_value vb = make_value("b", 1, bd, b, true);
    tq_value *in[3] = { &vx, &vw, &vb };
    int64_t st[2] = { s, s }, dl[2] = { d, d };
    op_attr_spec at[] = { ATTR_INT("group", group), ATTR_INTS("strides", 2, st),
                          ATTR_INTS("dilations", 2, dl), ATTR_INTS("pads", 4, pads),
                          ATTR_INTS("output_padding", 2, outpad) };
    tq_value y;
    tq_error err;
    if (run_op("", "ConvTranspose", at, 5, in, 3, &y, 13, &err))
        fail_msg("ConvTranspose failed: %s", err.msg);
    int64_t m = mg * group;
    int64_t oh = s * (h - 1) + outpad[0] + (kh - 1) * d + 1 - pads[0] - pads[2];
    int64_t ow = s * (w_ - 1) + outpad[1] + (kw - 1) * d + 1 - pads[1] - pads[3];
    assert_int_equal(y.dims[2], oh);
    assert_int_equal(y.dims[3], ow);
    int64_t yn = n * m * oh * ow;
    double *want = calloc((size_t)yn, sizeof(double)), *as = calloc((size_t)yn, sizeof(double));
    int64_t cg = c / group;
    for (int64_t i = 0; i < n * m * oh * ow; i++) {
        want[i] = b[(i / (oh * ow)) % m];
        as[i] = fabs(want[i]);
    }
    /* scatter form of the definition */
    for (int64_t nn = 0; nn < n; nn++)
        for (int64_t ci = 0; ci < c; ci++)
            for (int64_t iy = 0; iy < h; iy++)
                for (int64_t ix = 0; ix < w_; ix++)
                    for (int64_t mo = 0; mo < mg; mo++)
                        for (int64_t ky = 0; ky < kh; ky++)
                            for (int64_t kx = 0; kx < kw; kx++) {
                                int64_t oy = iy * s - pads[0] + ky * d, ox = ix * s - pads[1] + kx * d;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow)
                                    continue;
                                int64_t mm = (ci / cg) * mg + mo;
                                double p = (double)x[((nn * c + ci) * h + iy) * w_ + ix] *
                                           w[((ci * mg + mo) * kh + ky) * kw + kx];
                                int64_t o = ((nn * m + mm) * oh + oy) * ow + ox;
                                want[o] += p;
                                as[o] += fabs(p);
                            }
    expect_close(y.data, want, as, yn, cg * kh * kw + 1, "ConvTranspose");
    free(want);
    free(as);
    free(y.data);
    free(x);
    free(w);
    free(b);
}

static void test_conv_transpose(void **state)
{
    (void)state;
    static const int64_t p0[4] = { 0, 0, 0, 0 }, p1[4] = { 1, 0, 2, 1 }, o0[2] = { 0, 0 },
                         o1[2] = { 1, 1 };
    check_convt(1, 3, 5, 4, 2, 1, 3, 3, 1, 1, p0, o0, true);
    check_convt(2, 4, 6, 5, 3, 2, 3, 2, 2, 1, p1, o1, false);
    check_convt(1, 2, 4, 7, 5, 1, 2, 3, 3, 2, p1, o1, true);
}

/* ------------------------------------------------------------ Gemm/MatMul */

static void check_gemm(int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha,
                       float beta, int crank, const int64_t *cdims, bool const_b)
{
    int64_t ad[2] = { ta ? k : m, ta ? m : k }, bd[2] = { tb ? n : k, tb ? k : n };
    float *a = rnd_buf(m * k), *b = rnd_buf(k * n), *cc = rnd_buf(m * n);
    tq_value va = make_value("A", 2, ad, a, false), vb = make_value("B", 2, bd, b, const_b);
    tq_value vc = make_value("C", crank, cdims, cc, true);
    tq_value *in[3] = { &va, &vb, &vc };
    op_attr_spec at[] = { ATTR_INT("transA", ta), ATTR_INT("transB", tb),
                          ATTR_FLOAT("alpha", alpha), ATTR_FLOAT("beta", beta) };
    tq_value y;
    tq_error err;
    if (run_op("", "Gemm", at, 4, in, crank >= 0 ? 3 : 2, &y, 13, &err))
        fail_msg("Gemm failed: %s", err.msg);
    assert_int_equal(y.dims[0], m);
    assert_int_equal(y.dims[1], n);
    double *want = malloc(sizeof(double) * (size_t)(m * n)), *as = malloc(sizeof(double) * (size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, sa = 0;
            for (int64_t kk = 0; kk < k; kk++) {
                double p = (double)a[ta ? kk * m + i : i * k + kk] * b[tb ? j * k + kk : kk * n + j];
                s += p;
                sa += fabs(p);
            }
            s *= alpha;
            sa *= fabs(alpha);
            if (crank >= 0) {
                int64_t cm = crank == 2 ? cdims[0] : 1, cn = crank >= 1 ? cdims[crank - 1] : 1;
                double cv = (double)beta * cc[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
                s += cv;
                sa += fabs(cv) * 2;
            }
            want[i * n + j] = s;
            as[i * n + j] = sa;
        }
    expect_close(y.data, want, as, m * n, k, "Gemm");
    free(want);
    free(as);
    free(y.data);
    free(a);
    free(b);
    free(cc);
}

static void test_gemm(void **state)
{
    (void)state;
    int64_t cn[1] = { 10 }, cmn[2] = { 3, 10 }, cm1[2] = { 3, 1 }, c1[1] = { 1 }, cs[1] = { 0 };
    check_gemm(1, 64, 6, false, true, 1.0f, 1.0f, 1, (int64_t[]){ 64 }, true); /* MLP layer */
    check_gemm(3, 10, 5, false, false, 1.0f, 1.0f, 1, cn, true);
    check_gemm(3, 10, 5, true, false, 0.5f, 2.0f, 2, cmn, false);
    check_gemm(3, 10, 5, false, true, 1.0f, -1.5f, 2, cm1, true);
    check_gemm(3, 10, 5, true, true, 2.0f, 0.25f, 1, c1, false);
    check_gemm(3, 10, 5, false, false, 1.0f, 1.0f, 0, cs, true);  /* scalar C */
    check_gemm(3, 10, 5, false, false, 1.0f, 0.5f, 1, cn, true);  /* scaled vector */
    check_gemm(67, 29, 300, false, true, 1.0f, 1.0f, -1, NULL, true);
    check_gemm(64, 10, 64, false, true, 1.0f, 1.0f, 1, cn, true);  /* ResNet8 head */
}

static void check_matmul(int ar, const int64_t *ad, int br, const int64_t *bdm, bool const_b,
                         int yr, const int64_t *ydims)
{
    int64_t an = tq_shape_numel(ad, ar), bn = tq_shape_numel(bdm, br);
    float *a = rnd_buf(an), *b = rnd_buf(bn);
    tq_value va = make_value("A", ar, ad, a, false), vb = make_value("B", br, bdm, b, const_b);
    tq_value *in[2] = { &va, &vb };
    tq_value y;
    tq_error err;
    if (run_op("", "MatMul", NULL, 0, in, 2, &y, 13, &err))
        fail_msg("MatMul failed: %s", err.msg);
    assert_int_equal(y.rank, yr);
    for (int i = 0; i < yr; i++)
        assert_int_equal(y.dims[i], ydims[i]);
    /* numpy reference: promote 1-D operands, broadcast batch dims */
    int64_t m = ar == 1 ? 1 : ad[ar - 2], k = ad[ar - 1], n = br == 1 ? 1 : bdm[br - 1];
    int abr = ar > 2 ? ar - 2 : 0, bbr = br > 2 ? br - 2 : 0, r = abr > bbr ? abr : bbr;
    int64_t batch = 1, bdims[8];
    for (int i = 0; i < r; i++) {
        int64_t da = i - (r - abr) >= 0 ? ad[i - (r - abr)] : 1;
        int64_t db = i - (r - bbr) >= 0 ? bdm[i - (r - bbr)] : 1;
        bdims[i] = da > db ? da : db;
        batch *= bdims[i];
    }
    int64_t yn = batch * m * n;
    double *want = malloc(sizeof(double) * (size_t)yn), *as = malloc(sizeof(double) * (size_t)yn);
    for (int64_t bi = 0; bi < batch; bi++) {
        int64_t rem = bi, ai = 0, bj = 0, astr = 1, bstr = 1;
        for (int d = r - 1; d >= 0; d--) {
            int64_t idx = rem % bdims[d];
            rem /= bdims[d];
            int64_t da = d - (r - abr) >= 0 ? ad[d - (r - abr)] : 1;
            int64_t db = d - (r - bbr) >= 0 ? bdm[d - (r - bbr)] : 1;
            ai += (da == 1 ? 0 : idx) * astr;
            bj += (db == 1 ? 0 : idx) * bstr;
            astr *= da;
            bstr *= db;
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0, sa = 0;
                for (int64_t kk = 0; kk < k; kk++) {
                    double p = (double)a[ai * m * k + i * k + kk] * b[bj * k * n + kk * n + j];
                    s += p;
                    sa += fabs(p);
                }
                want[bi * m * n + i * n + j] = s;
                as[bi * m * n + i * n + j] = sa;
            }
    }
    expect_close(y.data, want, as, yn, k, "MatMul");
    free(want);
    free(as);
    free(y.data);
    free(a);
    free(b);
}

static void test_matmul(void **state)
{
    (void)state;
    check_matmul(2, (int64_t[]){ 3, 4 }, 2, (int64_t[]){ 4, 5 }, true, 2, (int64_t[]){ 3, 5 });
    check_matmul(3, (int64_t[]){ 2, 3, 4 }, 3, (int64_t[]){ 2, 4, 5 }, false, 3,
                 (int64_t[]){ 2, 3, 5 });
    check_matmul(4, (int64_t[]){ 2, 1, 3, 4 }, 3, (int64_t[]){ 3, 4, 7 }, true, 4,
                 (int64_t[]){ 2, 3, 3, 7 });
    check_matmul(3, (int64_t[]){ 5, 3, 4 }, 2, (int64_t[]){ 4, 30 }, true, 3,
                 (int64_t[]){ 5, 3, 30 });
    check_matmul(1, (int64_t[]){ 4 }, 2, (int64_t[]){ 4, 6 }, false, 1, (int64_t[]){ 6 });
    check_matmul(3, (int64_t[]){ 2, 3, 4 }, 1, (int64_t[]){ 4 }, true, 2, (int64_t[]){ 2, 3 });
    check_matmul(1, (int64_t[]){ 4 }, 1, (int64_t[]){ 4 }, false, 0, NULL);
    float a[6] = { 0 };
    tq_value va = make_value("lhs", 2, (int64_t[]){ 2, 3 }, a, false);
    tq_value vb = make_value("rhs", 2, (int64_t[]){ 2, 3 }, a, false);
    tq_value *in[2] = { &va, &vb };
    tq_value y;
    tq_error err;
    assert_int_equal(run_op("", "MatMul", NULL, 0, in, 2, &y, 13, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "lhs"));
    assert_non_null(strstr(err.msg, "rhs"));
}

/* ----------------------------------------------------------------- pools */

static void check_pool(const char *op, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t s,
                       const int64_t *pads, int ceil_mode, int cip, const char *auto_pad,
                       int64_t want_h, int64_t want_w)
{
    int64_t xd[4] = { 2, 3, h, w };
    float *x = rnd_buf(6 * h * w);
    tq_value vx = make_value("x", 4, xd, x, false);
    tq_value *in[1] = { &vx };
    int64_t ks[2] = { kh, kw }, st[2] = { s, s };
    op_attr_spec at[6] = { ATTR_INTS("kernel_shape", 2, ks), ATTR_INTS("strides", 2, st),
                           ATTR_INT("ceil_mode", ceil_mode), ATTR_INT("count_include_pad", cip) };
    int na = 4;
    if (auto_pad)
        at[na++] = (op_attr_spec)ATTR_STR("auto_pad", auto_pad);
    else
        at[na++] = (op_attr_spec)ATTR_INTS("pads", 4, pads);
    tq_value y;
    tq_error err;
    if (run_op("", op, at, na, in, 1, &y, 13, &err))
        fail_msg("%s failed: %s", op, err.msg);
    assert_int_equal(y.dims[2], want_h);
    assert_int_equal(y.dims[3], want_w);
    int64_t pt = pads[0], pl = pads[1], pb = pads[2], pr = pads[3];
    bool is_max = strcmp(op, "MaxPool") == 0;
    for (int64_t p = 0; p < 6; p++)
        for (int64_t oy = 0; oy < want_h; oy++)
            for (int64_t ox = 0; ox < want_w; ox++) {
                double mx = -INFINITY, sum = 0;
                int64_t cnt = 0, cnt_pad = 0;
                for (int64_t ky = 0; ky < kh; ky++)
                    for (int64_t kx = 0; kx < kw; kx++) {
                        int64_t iy = oy * s - pt + ky, ix = ox * s - pl + kx;
                        if (iy < h + pb && ix < w + pr)
                            cnt_pad++;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue;
                        double v = x[(p * h + iy) * w + ix];
                        mx = v > mx ? v : mx;
                        sum += v;
                        cnt++;
                    }
                float got = ((float *)y.data)[(p * want_h + oy) * want_w + ox];
                if (is_max)
                    assert_true(got == (float)mx);
                else
                    assert_true(fabs(got - sum / (cip ? cnt_pad : cnt)) <=
                                sum_tolerance(kh * kw + 1, fabs(sum) + 1));
            }
    free(y.data);
    free(x);
}

static void test_pools(void **state)
{
    (void)state;
    static const int64_t p0[4] = { 0 }, p1[4] = { 1, 1, 1, 1 }, p2[4] = { 2, 0, 1, 2 },
                         su[4] = { 0, 0, 1, 1 }, sl[4] = { 1, 1, 0, 0 };
    check_pool("MaxPool", 8, 8, 2, 2, 2, p0, 0, 0, NULL, 4, 4);
    check_pool("MaxPool", 7, 9, 3, 3, 2, p1, 0, 0, NULL, 4, 5);
    check_pool("MaxPool", 7, 8, 3, 3, 2, p0, 1, 0, NULL, 3, 4); /* ceil_mode */
    check_pool("MaxPool", 8, 8, 2, 2, 1, su, 0, 0, "SAME_UPPER", 8, 8);
    check_pool("AveragePool", 8, 8, 2, 2, 1, sl, 0, 0, "SAME_LOWER", 8, 8);
    check_pool("AveragePool", 7, 9, 3, 3, 2, p1, 0, 0, NULL, 4, 5);
    check_pool("AveragePool", 7, 9, 3, 3, 2, p1, 0, 1, NULL, 4, 5);
    check_pool("AveragePool", 9, 9, 3, 3, 2, p2, 1, 1, NULL, 6, 5);
    check_pool("AveragePool", 9, 9, 3, 3, 2, p2, 1, 0, NULL, 6, 5);

    int64_t xd[4] = { 2, 3, 7, 7 };
    float *x = rnd_buf(2 * 3 * 49);
    tq_value vx = make_value("x", 4, xd, x, false);
    tq_value *in[1] = { &vx };
    tq_value y;
    tq_error err;
    assert_int_equal(run_op("", "GlobalAveragePool", NULL, 0, in, 1, &y, 13, &err), TQ_OK);
    assert_int_equal(y.rank, 4);
    assert_int_equal(y.dims[2], 1);
    for (int p = 0; p < 6; p++) {
        double s = 0;
        for (int i = 0; i < 49; i++)
            s += x[p * 49 + i];
        assert_true(fabs(((float *)y.data)[p] - s / 49) <= sum_tolerance(50, 49));
    }
    free(y.data);
    free(x);
}

/* ----------------------------------------------------------- BatchNorm */

static void test_batchnorm(void **state)
{
    (void)state;
    int64_t xd[4] = { 2, 5, 3, 4 }, cd[1] = { 5 };
    float *x = rnd_buf(120), sc[5], bi[5], mean[5], var[5];
    rnd_fill(sc, 5);
    rnd_fill(bi, 5);
    rnd_fill(mean, 5);
    for (int i = 0; i < 5; i++)
        var[i] = 0.5f + fabsf(rnd_float());
    for (int konst = 0; konst < 2; konst++) {
        tq_value vx = make_value("x", 4, xd, x, false), vs = make_value("scale", 1, cd, sc, konst);
        tq_value vb = make_value("B", 1, cd, bi, konst), vm = make_value("mean", 1, cd, mean, konst);
        tq_value vv = make_value("var", 1, cd, var, konst);
        tq_value *in[5] = { &vx, &vs, &vb, &vm, &vv };
        op_attr_spec at[] = { ATTR_FLOAT("epsilon", 1e-3f) };
        tq_value y;
        tq_error err;
        if (run_op("", "BatchNormalization", at, 1, in, 5, &y, 15, &err))
            fail_msg("BatchNormalization failed: %s", err.msg);
        for (int64_t i = 0; i < 120; i++) {
            int64_t ch = (i / 12) % 5;
            double want = (x[i] - mean[ch]) / sqrt((double)var[ch] + (double)1e-3f) * sc[ch] + bi[ch];
            /* a handful of roundings (sqrt, divide, multiply, add) on |terms| <~ 4 */
            assert_true(fabs(((float *)y.data)[i] - want) <= 8 * FLT_EPSILON * 4);
        }
        free(y.data);
    }
    tq_value vx = make_value("x", 4, xd, x, false), bad = make_value("scale", 1, (int64_t[]){ 4 }, sc, true);
    tq_value *in[5] = { &vx, &bad, &bad, &bad, &bad };
    tq_value y;
    tq_error err;
    assert_int_equal(run_op("", "BatchNormalization", NULL, 0, in, 5, &y, 15, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "scale"));
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_cases),   cmocka_unit_test(test_conv_errors),
        cmocka_unit_test(test_conv_transpose), cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_matmul),       cmocka_unit_test(test_pools),
        cmocka_unit_test(test_batchnorm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
