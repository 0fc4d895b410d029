/* The fused dynamic-int8 depthwise kernel (kernels/dynq_dw.h): the C
 * reference and the AVX2 version against the ONNX ops written out here one
 * after another (DynamicQuantizeLinear's rounding via the library's C
 * quantiser, ConvInteger as an int64 sum with padding = the zero point,
 * Cast, Mul, Add, Relu/Clip in float), bit for bit, with the min/max they
 * fold. Random shapes (stride 1/2, pads 0..2, rows narrower and wider than
 * the 8-vector blocks, one or several output channels per input), zero
 * points across the range, inputs placed exactly on half-integer multiples
 * of the scale (the division fallback), NaNs, and a sentinel past the
 * output. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/cpu.h"
#include "kernels/dynq_dw.h"
#include "kernels/qgemm.h"

#define QRAND_SEED 0x9E3779B97F4A7C15ull
#include "qrand.h"
#include "dw_geom.h"
static float rnd_f(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() & 0xFFFFFF) / 16777216.0f;
}

#define SENTINEL 1234.5f

/* The unfused chain, op by op. */
static void reference(const tq_conv2d_geom *g, const float *x, const tq_dynq_dw_args *a,
                      float *out, float *mn, float *mx)
{
    float lo = INFINITY, hi = -INFINITY;
    for (int o = 0; o < a->nout; o++) {
        size_t n = (size_t)(g->ih * g->iw);
        uint8_t *q = malloc(n ? n : 1);
        tq_quantize_f32_c(x, n, a->scale, a->zp, 0, q);
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t acc = 0;
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int64_t iy = oy * g->sh - g->pt + ky, ix = ox * g->sw - g->pl + kx;
                        int v = iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw
                                    ? q[iy * g->iw + ix]
                                    : a->zp; /* ConvInteger pads with x_zero_point */
                        acc += (int64_t)(v - a->zp) * (int64_t)a->w[9 * o + ky * 3 + kx];
                    }
                float y = (float)(int32_t)acc;
                y = y * a->sprod[o];
                if (a->bias)
                    y = y + a->bias[o];
                if (a->act.kind == TQ_QACT_RELU)
                    y = y > 0.0f ? y : 0.0f;
                if (a->act.kind == TQ_QACT_CLIP) {
                    y = y < a->act.lo ? a->act.lo : y;
                    y = y > a->act.hi ? a->act.hi : y;
                }
                out[(o * g->oh + oy) * g->ow + ox] = y;
                if (!isnan(y)) {
                    lo = y < lo ? y : lo;
                    hi = y > hi ? y : hi;
                }
            }
        free(q);
    }
    *mn = lo;
    *mx = hi;
}

static void check_one(tq_dynq_dw_fn fn, const char *name, const tq_conv2d_geom *g,
                      const float *x, const tq_dynq_dw_args *a)
{
    size_t on = (size_t)(a->nout * g->oh * g->ow);
    float *want = malloc(on * sizeof(float)), *got = malloc((on + 8) * sizeof(float));
    for (size_t i = 0; i < on + 8; i++)
        got[i] = SENTINEL;
    float wmn, wmx, gmn = INFINITY, gmx = -INFINITY;
    reference(g, x, a, want, &wmn, &wmx);
    fn(g, x, a, got, (size_t)(g->oh * g->ow), &gmn, &gmx);
    for (size_t i = 0; i < on; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s %lldx%lld s%d p%d,%d at %zu: %.9g vs %.9g (scale %g zp %d)", name,
                     (long long)g->ih, (long long)g->iw, g->sw, g->pt, g->pl, i, got[i], want[i],
                     a->scale, a->zp);
    for (size_t i = on; i < on + 8; i++)
        assert_true(got[i] == SENTINEL);
    if (memcmp(&gmn, &wmn, sizeof(float)) || memcmp(&gmx, &wmx, sizeof(float)))
        fail_msg("%s min/max %g %g vs %g %g", name, gmn, gmx, wmn, wmx);
    free(want);
    free(got);
}

static void test_dynq_dw(void **st)
{
    (void)st;
    tq_cpu_set_mask(~0u);
    tq_dynq_dw_fn best = tq_dynq_dw_get();
    for (int iter = 0; iter < 400; iter++) {
        tq_conv2d_geom g = rnd_dw_geom(iter);
        assert_true(tq_dw3x3_shape(&g));
        size_t n = (size_t)(g.ih * g.iw);
        float *x = malloc(n * sizeof(float));
        float lo = rnd_f(-8.0f, 0.0f), hi = rnd_f(0.0f, 8.0f);
        if (iter % 5 == 1)
            lo = 0.0f; /* zero point 0, like after a Relu */
        float mn, mx;
        tq_dynq_dw_args a;
        memset(&a, 0, sizeof a);
        {
            /* tq_dynamic_qparams lives in the runtime; the kernel only needs
             * a scale and a zero point in range */
            mn = lo < 0 ? lo : 0;
            mx = hi > 0 ? hi : 0;
            a.scale = mx == mn ? 1.0f : (mx - mn) / 255.0f;
            a.zp = (int)rintf(fminf(fmaxf(-mn / a.scale, 0.0f), 255.0f));
        }
        for (size_t i = 0; i < n; i++) {
            int mode = rnd_in(0, 9);
            if (mode == 0) /* exactly between two levels: the division decides */
                x[i] = ((float)rnd_in(-300, 300) + 0.5f) * a.scale;
            else if (mode == 1 && iter % 7 == 3)
                x[i] = NAN;
            else
                x[i] = rnd_f(lo * 1.1f, hi * 1.1f); /* a few outside: saturate */
        }
        enum { MAXOUT = 5 };
        float w[9 * MAXOUT], sprod[MAXOUT], bias[MAXOUT];
        a.nout = iter % 3 == 2 ? rnd_in(2, MAXOUT) : 1;
        for (int t = 0; t < 9 * a.nout; t++)
            w[t] = (float)(iter % 9 == 0 ? (t % 2 ? 255 : -255) : rnd_in(-255, 255));
        for (int o = 0; o < a.nout; o++) {
            sprod[o] = a.scale * rnd_f(0.001f, 0.05f);
            bias[o] = rnd_f(-1.0f, 1.0f);
        }
        a.w = w;
        a.sprod = sprod;
        a.bias = rnd_in(0, 1) ? bias : NULL;
        a.act.kind = rnd_in(0, 2);
        a.act.lo = 0.0f;
        a.act.hi = 6.0f;
        check_one(tq_dynq_dw_c, "dynq_dw_c", &g, x, &a);
        check_one(best, "dynq_dw_best", &g, x, &a);
        free(x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynq_dw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
