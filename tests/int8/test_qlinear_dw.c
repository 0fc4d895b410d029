/* The static int8 depthwise kernel (kernels/qlinear_dw.h): the C reference
 * and the AVX2 version against QLinearConv written out here (an int64 sum
 * with padding = the input zero point, the int32 bias, then rint(acc *
 * mult) + y_zp saturated, in float as ONNX Runtime does), byte for byte.
 * Random shapes (stride 1/2, pads 0..2, rows narrower and wider than the
 * 8-vector blocks, one or several output channels per input), uint8 and int8
 * inputs and outputs, zero points across the range, weights at the int8 and
 * uint8-difference extremes, multipliers that saturate, and a sentinel past
 * the output. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/cpu.h"
#include "kernels/qlinear_dw.h"

#define QRAND_SEED 0x5851F42D4C957F2Dull
#include "qrand.h"
#include "dw_geom.h"
static float rnd_f(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() & 0xFFFFFF) / 16777216.0f;
}

#define SENTINEL 0xA5

static int in_value(const tq_qlinear_dw_args *a, const void *x, int64_t i)
{
    return a->x_signed ? ((const int8_t *)x)[i] : ((const uint8_t *)x)[i];
}

static void reference(const tq_conv2d_geom *g, const void *x, const tq_qlinear_dw_args *a,
                      uint8_t *out)
{
    float lo = a->y_signed ? -128.0f : 0.0f, hi = a->y_signed ? 127.0f : 255.0f;
    for (int o = 0; o < a->nout; o++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t acc = (int64_t)a->bias[o];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int64_t iy = oy * g->sh - g->pt + ky, ix = ox * g->sw - g->pl + kx;
                        int v = iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw
                                    ? in_value(a, x, iy * g->iw + ix)
                                    : a->x_zp; /* QLinearConv pads with x_zero_point */
                        acc += (int64_t)(v - a->x_zp) * (int64_t)a->w[9 * o + ky * 3 + kx];
                    }
                float t = rintf((float)(int32_t)acc * a->mult[o]) + (float)a->y_zp;
                t = t > lo ? t : lo;
                t = t < hi ? t : hi;
                int q = (int)t;
                out[(o * g->oh + oy) * g->ow + ox] = (uint8_t)(a->y_signed ? (int8_t)q : q);
            }
}

static void check_one(tq_qlinear_dw_fn fn, const char *name, const tq_conv2d_geom *g,
                      const void *x, const tq_qlinear_dw_args *a)
{
    size_t on = (size_t)(a->nout * g->oh * g->ow);
    uint8_t *want = malloc(on), *got = malloc(on + 8);
    memset(got, SENTINEL, on + 8);
    reference(g, x, a, want);
    fn(g, x, a, got, (size_t)(g->oh * g->ow));
    for (size_t i = 0; i < on; i++)
        if (got[i] != want[i])
            fail_msg("%s %lldx%lld s%d p%d,%d nout %d at %zu: %d vs %d (x_zp %d%s, y_zp %d%s)",
                     name, (long long)g->ih, (long long)g->iw, g->sw, g->pt, g->pl, a->nout, i,
                     got[i], want[i], a->x_zp, a->x_signed ? " s8" : " u8", a->y_zp,
                     a->y_signed ? " s8" : " u8");
    for (size_t i = on; i < on + 8; i++)
        assert_int_equal(got[i], SENTINEL);
    free(want);
    free(got);
}

static void test_qlinear_dw(void **st)
{
    (void)st;
    tq_cpu_set_mask(~0u);
    tq_qlinear_dw_fn best = tq_qlinear_dw_get();
    for (int iter = 0; iter < 500; iter++) {
        tq_conv2d_geom g = rnd_dw_geom(iter);
        assert_true(tq_dw3x3_shape(&g));
        tq_qlinear_dw_args a;
        memset(&a, 0, sizeof a);
        a.x_signed = rnd_in(0, 1);
        a.y_signed = rnd_in(0, 1);
        a.x_zp = a.x_signed ? rnd_in(-128, 127) : rnd_in(0, 255);
        a.y_zp = a.y_signed ? rnd_in(-128, 127) : rnd_in(0, 255);
        size_t n = (size_t)(g.ih * g.iw);
        uint8_t *x = malloc(n);
        for (size_t i = 0; i < n; i++)
            x[i] = (uint8_t)rnd_in(0, 255);
        enum { MAXOUT = 5 };
        float w[9 * MAXOUT], bias[MAXOUT], mult[MAXOUT];
        a.nout = iter % 3 == 2 ? rnd_in(2, MAXOUT) : 1;
        for (int t = 0; t < 9 * a.nout; t++)
            w[t] = (float)(iter % 9 == 0 ? (t % 2 ? 255 : -255) : rnd_in(-128, 127));
        for (int o = 0; o < a.nout; o++) {
            bias[o] = (float)rnd_in(-100000, 100000);
            /* mostly in range; every 5th call saturates widely */
            mult[o] = iter % 5 == 4 ? rnd_f(0.01f, 0.1f) : rnd_f(0.00005f, 0.001f);
        }
        a.w = w;
        a.bias = bias;
        a.mult = mult;
        check_one(tq_qlinear_dw_c, "qlinear_dw_c", &g, x, &a);
        check_one(best, "qlinear_dw_best", &g, x, &a);
        free(x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qlinear_dw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
