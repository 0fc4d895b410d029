/* Several output channels of one input plane (conv.h tq_dwconv_multi_fn,
 * the grey-image stem): the C reference and the best kernel against a
 * double-precision convolution written out here, with the float rounding
 * bound of a 9-term sum plus bias; every plane must also equal the
 * single-channel kernel's result bit for bit (the same loop), and nothing
 * is written between planes (out_stride > plane) or past the last one.
 * Shapes: stride 1 and 2, pads 0..2, rows narrower and wider than the
 * vector blocks, odd and even row counts, with and without bias / clamp. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/conv.h"
#include "kernels/cpu.h"

#define SENTINEL 1234.5f
#define GAP 5 /* floats between planes */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static int rnd_in(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}
static float rnd_f(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() & 0xFFFFFF) / 16777216.0f;
}

static void check(tq_dwconv_multi_fn fn, tq_dwconv_fn single, const char *name,
                  const tq_conv2d_geom *g, const float *in, int nout, const float *w,
                  const float *bias, bool clamp)
{
    size_t plane = (size_t)(g->oh * g->ow), stride = plane + GAP;
    size_t total = stride * (size_t)nout + 8;
    float *out = malloc(total * sizeof(float)), *one = malloc(plane * sizeof(float));
    for (size_t i = 0; i < total; i++)
        out[i] = SENTINEL;
    fn(g, in, nout, w, bias, out, stride, clamp, 0.0f, 6.0f);
    for (int o = 0; o < nout; o++) {
        const float *wo = w + 9 * o, *y = out + stride * (size_t)o;
        double b = bias ? bias[o] : 0.0;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                double s = b, as = fabs(b);
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int64_t iy = oy * g->sh - g->pt + ky, ix = ox * g->sw - g->pl + kx;
                        if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw)
                            continue;
                        double p = (double)wo[ky * 3 + kx] * in[iy * g->iw + ix];
                        s += p;
                        as += fabs(p);
                    }
                if (clamp)
                    s = s < 0 ? 0 : (s > 6 ? 6 : s);
                /* ten float roundings at most (nine taps, the bias), each
                 * relative 2^-24 of a partial sum bounded by as */
                double tol = 10.0 * 0x1p-24 * as + 1e-30;
                double got = y[oy * g->ow + ox];
                if (fabs(got - s) > tol)
                    fail_msg("%s %lldx%lld s%d p%d,%d plane %d at (%lld,%lld): %.9g vs %.9g",
                             name, (long long)g->ih, (long long)g->iw, g->sw, g->pt, g->pl, o,
                             (long long)oy, (long long)ox, got, s);
            }
        single(g, in, wo, bias ? bias[o] : 0.0f, one, clamp, 0.0f, 6.0f);
        if (memcmp(one, y, plane * sizeof(float)) != 0)
            fail_msg("%s plane %d differs from the single-channel kernel", name, o);
        for (size_t i = plane; i < stride; i++)
            assert_true(y[i] == SENTINEL);
    }
    for (size_t i = stride * (size_t)nout; i < total; i++)
        assert_true(out[i] == SENTINEL);
    free(out);
    free(one);
}

static void test_dwconv_multi(void **st)
{
    (void)st;
    tq_conv_dsp best, c_only;
    tq_conv_dsp_init(&best, tq_cpu_flags());
    tq_conv_dsp_init(&c_only, 0);
    for (int iter = 0; iter < 150; iter++) {
        tq_conv2d_geom g = { .c = 1, .kh = 3, .kw = 3, .dh = 1, .dw = 1 };
        g.sh = g.sw = rnd_in(1, 2);
        g.pt = rnd_in(0, 2);
        g.pl = rnd_in(0, 2);
        int pb = rnd_in(0, 2), pr = rnd_in(0, 2);
        g.ih = rnd_in(3, 33);
        g.iw = iter % 5 == 0 ? rnd_in(100, 240) : rnd_in(3, 70);
        g.oh = (g.ih + g.pt + pb - 3) / g.sh + 1;
        g.ow = (g.iw + g.pl + pr - 3) / g.sw + 1;
        size_t n = (size_t)(g.ih * g.iw);
        float *in = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            in[i] = rnd_f(-2.0f, 3.0f);
        enum { MAXOUT = 17 };
        float w[9 * MAXOUT], bias[MAXOUT];
        int nout = rnd_in(1, MAXOUT);
        for (int i = 0; i < 9 * nout; i++)
            w[i] = rnd_f(-1.5f, 1.5f);
        for (int o = 0; o < nout; o++)
            bias[o] = rnd_f(-1.0f, 1.0f);
        const float *b = rnd_in(0, 3) ? bias : NULL;
        bool clamp = rnd_in(0, 1);
        assert_true(tq_dwconv_multi_fast(&best, &g) == (best.dwconv_multi != tq_dwconv_multi_c));
        assert_false(tq_dwconv_multi_fast(&c_only, &g));
        check(c_only.dwconv_multi, c_only.dwconv, "dwconv_multi_c", &g, in, nout, w, b, clamp);
        check(best.dwconv_multi, best.dwconv, "dwconv_multi_best", &g, in, nout, w, b, clamp);
        free(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dwconv_multi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
