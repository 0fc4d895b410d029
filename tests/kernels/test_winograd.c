/* Winograd F(2x2, 3x3) conv (kernels/winograd.h): the AVX2 transforms
 * against the C reference bit for bit, and whole convolutions (C and best
 * kernels) against a double-precision direct conv, with a tolerance derived
 * from the rounding bound of every step (Higham's gamma on the sum of
 * absolute values the transforms and the GEMM add up). Sentinels catch
 * missing writes and writes outside Y. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "checkasm.h"
#include "kernels/cpu.h"
#include "kernels/winograd.h"

static int64_t round8(int64_t n)
{
    return (n + 7) / 8 * 8;
}

static void test_input_transform(void **state)
{
    (void)state;
    tq_wino_dsp best;
    tq_wino_dsp_init(&best, tq_cpu_flags());
    const int64_t sizes[] = { 1, 3, 4, 7, 8, 9, 14, 16, 17, 40 };
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t nt = sizes[s], width = 2 * round8(nt) + 2, stride = round8(nt) + 8;
        float *rows = malloc(sizeof(float) * (size_t)(4 * width));
        float *o1 = malloc(sizeof(float) * (size_t)(16 * stride));
        float *o2 = malloc(sizeof(float) * (size_t)(16 * stride));
        assert_non_null(rows);
        assert_non_null(o1);
        assert_non_null(o2);
        rnd_fill(rows, (size_t)(4 * width));
        const float *r[4] = { rows, rows + width, rows + 2 * width, rows + 3 * width };
        fill_sentinel(o1, (size_t)(16 * stride));
        fill_sentinel(o2, (size_t)(16 * stride));
        tq_wino_in_c(r, nt, o1, (ptrdiff_t)stride);
        best.in(r, nt, o2, (ptrdiff_t)stride);
        for (int64_t xi = 0; xi < 16; xi++)
            for (int64_t t = 0; t < stride; t++) {
                float a = o1[xi * stride + t], b = o2[xi * stride + t];
                if (t < round8(nt)) {
                    assert_true(a != SENTINEL);
                    assert_memory_equal(&a, &b, sizeof a); /* bit for bit */
                } else {
                    assert_true(a == SENTINEL && b == SENTINEL);
                }
            }
        free(rows);
        free(o1);
        free(o2);
    }
}

/* One tile row of the output transform into a plane with guard rows:
 * C and best agree bit for bit on the rows they own, and neither writes
 * past the plane's end (the AVX2 spill must stop at rows_below). */
static void test_output_transform(void **state)
{
    (void)state;
    tq_wino_dsp best;
    tq_wino_dsp_init(&best, tq_cpu_flags());
    const int64_t widths[] = { 1, 2, 7, 14, 15, 16, 17, 28, 33 };
    for (size_t s = 0; s < sizeof widths / sizeof *widths; s++)
        for (int variant = 0; variant < 4; variant++) {
            int64_t ow = widths[s], nt = (ow + 1) / 2, ld = round8(nt) + 8, cout = 3;
            int64_t oh = 2 + variant % 2; /* the tile row is the plane's last */
            bool two_rows = variant % 2 == 0;
            int64_t ty = (oh - 1) / 2, plane = oh * ow, guard = 32;
            float *m = malloc(sizeof(float) * (size_t)(16 * cout * ld));
            float *z = malloc(sizeof(float) * (size_t)(cout * plane + guard));
            float *y1 = malloc(sizeof(float) * (size_t)(cout * plane + guard));
            float *y2 = malloc(sizeof(float) * (size_t)(cout * plane + guard));
            float bias[3];
            assert_non_null(m);
            assert_non_null(z);
            assert_non_null(y1);
            assert_non_null(y2);
            rnd_fill(m, (size_t)(16 * cout * ld));
            rnd_fill(z, (size_t)(cout * plane + guard));
            rnd_fill(bias, 3);
            fill_sentinel(y1, (size_t)(cout * plane + guard));
            fill_sentinel(y2, (size_t)(cout * plane + guard));
            bool with_z = variant >= 2, clamp = variant % 3 != 0;
            for (int64_t co = 0; co < cout; co++) { /* channel by channel, as the driver */
                int64_t off = co * plane + 2 * ty * ow;
                tq_wino_out_c(m + co * ld, (ptrdiff_t)(cout * ld), nt, bias + co,
                              with_z ? z + off : NULL, y1 + off, two_rows, oh - 2 * ty - 1, ow,
                              clamp, -0.25f, 0.5f);
                best.out(m + co * ld, (ptrdiff_t)(cout * ld), nt, bias + co,
                         with_z ? z + off : NULL, y2 + off, two_rows, oh - 2 * ty - 1, ow, clamp,
                         -0.25f, 0.5f);
            }
            for (int64_t co = 0; co < cout; co++)
                for (int64_t r = 2 * ty; r < 2 * ty + (two_rows ? 2 : 1); r++)
                    for (int64_t x = 0; x < ow; x++) {
                        float a = y1[co * plane + r * ow + x], b = y2[co * plane + r * ow + x];
                        assert_true(a != SENTINEL);
                        assert_memory_equal(&a, &b, sizeof a);
                    }
            /* rows above the tile row (other calls' rows) and past the last
             * plane: untouched by both, so nothing spilled into a neighbour */
            for (int64_t co = 0; co < cout; co++)
                for (int64_t i = 0; i < 2 * ty * ow; i++)
                    assert_true(y1[co * plane + i] == SENTINEL && y2[co * plane + i] == SENTINEL);
            for (int64_t i = cout * plane; i < cout * plane + guard; i++)
                assert_true(y1[i] == SENTINEL && y2[i] == SENTINEL);
            free(m);
            free(z);
            free(y1);
            free(y2);
        }
}

typedef struct conv_case {
    int64_t batch, cin, cout, ih, iw;
    int pt, pl, pb, pr;
    bool bias, z, clamp;
} conv_case;

static const double BT[4][4] = { { 1, 0, -1, 0 }, { 0, 1, 1, 0 }, { 0, -1, 1, 0 }, { 0, 1, 0, -1 } };
static const double AT[2][4] = { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } };

static double gamma_n(double n)
{
    double u = FLT_EPSILON / 2;
    return n * u / (1 - n * u);
}

/* Input value (0 outside the image). */
static double in_at(const float *plane, const conv_case *k, int64_t y, int64_t x)
{
    return y < 0 || y >= k->ih || x < 0 || x >= k->iw ? 0.0 : plane[y * k->iw + x];
}

static void run_conv_case(const conv_case *k, const tq_wino_dsp *dsp, const tq_sgemm_dsp *gemm)
{
    tq_conv2d_geom g = { .c = k->cin, .ih = k->ih, .iw = k->iw, .kh = 3, .kw = 3, .sh = 1,
                         .sw = 1, .dh = 1, .dw = 1, .pt = k->pt, .pl = k->pl };
    g.oh = k->ih + k->pt + k->pb - 2;
    g.ow = k->iw + k->pl + k->pr - 2;
    assert_true(tq_wino_suits(&g, k->cout));
    tq_wino_plan p;
    tq_wino_plan_init(&p, &g, k->cout, k->batch);
    size_t nx = (size_t)(k->batch * k->cin * k->ih * k->iw);
    size_t nw = (size_t)(k->cout * k->cin * 9), ny = (size_t)(k->batch * k->cout * g.oh * g.ow);
    size_t guard = 64;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
    float *u = malloc(sizeof(float) * tq_wino_weight_floats(&p));
    float *bias = malloc(sizeof(float) * (size_t)k->cout), *z = malloc(sizeof(float) * ny);
    float *y = malloc(sizeof(float) * (ny + guard));
    float *scratch = malloc(sizeof(float) * tq_wino_scratch_floats(&p));
    assert_true(x && w && u && bias && z && y && scratch);
    rnd_fill(x, nx);
    rnd_fill(w, nw);
    rnd_fill(bias, (size_t)k->cout);
    rnd_fill(z, ny);
    fill_sentinel(y, ny + guard);
    /* NaN-filled scratch: every value the conv reads must be written first */
    for (size_t i = 0; i < tq_wino_scratch_floats(&p); i++)
        scratch[i] = NAN;
    tq_wino_weights(&p, w, u);
    float lo = -0.5f, hi = 0.75f;
    tq_wino_conv(&p, gemm, dsp, k->batch, x, u, k->bias ? bias : NULL, k->z ? z : NULL, y,
                 k->clamp, lo, hi, scratch);
    for (size_t i = ny; i < ny + guard; i++)
        assert_true(y[i] == SENTINEL);
    for (int64_t n = 0; n < k->batch; n++)
        for (int64_t co = 0; co < k->cout; co++)
            for (int64_t oy = 0; oy < g.oh; oy++)
                for (int64_t ox = 0; ox < g.ow; ox++) {
                    int64_t ty = oy / 2, tx = ox / 2;
                    int r = (int)(oy % 2), c = (int)(ox % 2);
                    double ref = 0.0, bound = 0.0;
                    for (int64_t ci = 0; ci < k->cin; ci++) {
                        const float *plane = x + (n * k->cin + ci) * k->ih * k->iw;
                        const float *wk = w + (co * k->cin + ci) * 9;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                                ref += (double)wk[ky * 3 + kx] *
                                       in_at(plane, k, oy - k->pt + ky, ox - k->pl + kx);
                        /* sum over the transformed tile of |A^T| |U| |B^T| |d| |B| |A| */
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++) {
                                double a = fabs(AT[r][i]) * fabs(AT[c][j]);
                                if (a == 0.0)
                                    continue;
                                double vabs = 0.0;
                                for (int s = 0; s < 4; s++)
                                    for (int t = 0; t < 4; t++)
                                        vabs += fabs(BT[i][s]) * fabs(BT[j][t]) *
                                                fabs(in_at(plane, k, 2 * ty - k->pt + s,
                                                           2 * tx - k->pl + t));
                                float uv = u[((i * 4 + j) * k->cout + co) * k->cin + ci];
                                bound += a * fabs((double)uv) * vabs;
                            }
                    }
                    size_t yi = (size_t)(((n * k->cout + co) * g.oh + oy) * g.ow + ox);
                    double extra = 0.0;
                    if (k->bias) {
                        ref += bias[co];
                        extra += fabs(bias[co]);
                    }
                    if (k->z) {
                        ref += z[yi];
                        extra += fabs(z[yi]);
                    }
                    /* V: 2 roundings, U: 1, GEMM: cin, output transform: 4 */
                    double tol = gamma_n((double)k->cin + 7) * bound +
                                 gamma_n(3) * (extra + fabs(ref)) + FLT_MIN;
                    if (k->clamp)
                        ref = ref < lo ? lo : (ref > hi ? hi : ref);
                    double got = y[yi];
                    if (!(fabs(got - ref) <= tol)) {
                        printf("case %lldx%lld %lldx%lld n=%lld co=%lld (%lld,%lld): got %.9g "
                               "want %.9g tol %.3g\n",
                               (long long)k->cin, (long long)k->cout, (long long)k->ih,
                               (long long)k->iw, (long long)n, (long long)co, (long long)oy,
                               (long long)ox, got, ref, tol);
                        fail();
                    }
                }
    free(x);
    free(w);
    free(u);
    free(bias);
    free(z);
    free(y);
    free(scratch);
}

static void test_conv_vs_double(void **state)
{
    (void)state;
    const conv_case cases[] = {
        { 1, 8, 8, 5, 5, 1, 1, 1, 1, true, false, false },
        { 2, 16, 12, 7, 9, 1, 1, 1, 1, true, true, true },
        { 1, 9, 10, 28, 28, 1, 1, 1, 1, false, false, true },
        { 3, 32, 32, 14, 14, 1, 1, 1, 1, true, true, true },
        { 2, 8, 16, 6, 3, 0, 0, 0, 0, true, false, false },
        { 1, 8, 8, 4, 11, 2, 0, 1, 2, false, true, false },
        { 5, 12, 8, 7, 7, 1, 1, 1, 1, true, true, true },
        { 1, 8, 9, 3, 40, 1, 1, 1, 1, true, false, true },
        { 4, 8, 8, 1, 1, 1, 1, 1, 1, true, true, true },   /* 1x1 images */
        { 3, 10, 8, 2, 2, 1, 1, 1, 1, false, true, false },
    };
    tq_wino_dsp c_dsp, best;
    tq_wino_dsp_init(&c_dsp, 0);
    tq_wino_dsp_init(&best, tq_cpu_flags());
    tq_sgemm_dsp gc, gb;
    tq_sgemm_dsp_init(&gc, 0);
    tq_sgemm_dsp_init(&gb, tq_cpu_flags());
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run_conv_case(&cases[i], &c_dsp, &gc);
        run_conv_case(&cases[i], &best, &gb);
    }
}

/* Below 8 channels, other strides, dilations and kernel sizes stay direct. */
static void test_suits(void **state)
{
    (void)state;
    tq_conv2d_geom g = { .c = 16, .ih = 8, .iw = 8, .oh = 8, .ow = 8, .kh = 3, .kw = 3,
                         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 };
    assert_true(tq_wino_suits(&g, 16));
    assert_false(tq_wino_suits(&g, 4));
    tq_conv2d_geom h = g;
    h.sh = h.sw = 2;
    assert_false(tq_wino_suits(&h, 16));
    h = g;
    h.dh = 2;
    assert_false(tq_wino_suits(&h, 16));
    h = g;
    h.kw = 5;
    assert_false(tq_wino_suits(&h, 16));
    h = g;
    h.c = 1;
    assert_false(tq_wino_suits(&h, 16));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_transform),
        cmocka_unit_test(test_output_transform),
        cmocka_unit_test(test_conv_vs_double),
        cmocka_unit_test(test_suits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
