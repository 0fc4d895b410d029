/* The integer convolution engine's fast paths (qconv.c: depthwise dw_run
 * + kernels/qgemm.h dw_taps; group-1 implicit GEMM over the padded image +
 * qgemm_ind) through the real ops: ConvInteger (int32
 * output) and QLinearConv (8-bit output through a per-block scratch), on
 * random shapes, strides, pads, dilations, signedness and zero points,
 * against a naive int64 convolution written here from the ONNX definition
 * (padding value = x_zero_point, i.e. 0 after subtracting it). Plus the
 * dw_taps kernel itself: SIMD vs C vs int64, odd lengths, extreme values,
 * sentinel past the end. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../ops/op_harness.h"
#include "kernels/cpu.h"
#include "kernels/qgemm.h"

#define QRAND_SEED 0xD1B54A32D192ED03ull
#include "qrand.h"

static void test_dw_taps_kernel(void **st)
{
    (void)st;
    tq_cpu_set_mask(~0u);
    const tq_qdsp *simd = tq_qdsp_get();
    enum { MAXN = 77 };
    static float buf[TQ_QDW_MAX_TAPS][MAXN];
    float w[TQ_QDW_MAX_TAPS];
    const float *src[TQ_QDW_MAX_TAPS];
    int ntaps_list[] = { 1, 2, 9, 25, 49, TQ_QDW_MAX_TAPS };
    for (int ti = 0; ti < 6; ti++)
        for (int n = 1; n <= MAXN; n += 4)
            for (int mode = 0; mode < 3; mode++) {
                int ntaps = ntaps_list[ti];
                for (int t = 0; t < ntaps; t++) {
                    w[t] = mode == 0 ? (float)rnd_in(-255, 255) : (mode == 1 ? 255.0f : -255.0f);
                    for (int i = 0; i < n; i++)
                        buf[t][i] = mode == 0 ? (float)rnd_in(-255, 255) : 255.0f;
                    src[t] = buf[t];
                }
                int32_t init = rnd_in(-100000, 100000);
                int32_t a[MAXN + 1], b[MAXN + 1];
                a[n] = b[n] = 0x5A5A5A5A;
                tq_qdw_taps_c(a, n, src, w, ntaps, init);
                simd->dw_taps(b, n, src, w, ntaps, init);
                assert_memory_equal(a, b, sizeof(int32_t) * (size_t)(n + 1));
                assert_int_equal(a[n], 0x5A5A5A5A);
                for (int i = 0; i < n; i++) {
                    int64_t ref = init;
                    for (int t = 0; t < ntaps; t++)
                        ref += (int64_t)w[t] * (int64_t)buf[t][i];
                    assert_true(a[i] == ref);
                }
            }
}

/* The tables for C, AVX2 and (when the CPU has it) AVX2 + VNNI. */
static const tq_qdsp *table_for(unsigned mask)
{
    tq_cpu_set_mask(mask);
    const tq_qdsp *d = tq_qdsp_get();
    tq_cpu_set_mask(~0u);
    return d;
}

/* qgemm_ind, widen_s16 and requant: every table equals the C one bit for bit
 * (and qgemm_ind equals an int64 product); columns past N keep a sentinel. */
static void test_gemm_widen_requant_kernels(void **st)
{
    (void)st;
    const tq_qdsp *tabs[3] = { tq_qdsp_c(), table_for(TQ_CPU_FLAG_AVX2), table_for(~0u) };
    enum { MAXK = 37, MAXN = 70, LDC = MAXN + 5 };
    static int16_t bmem[MAXK + 1][MAXN + 16];
    static int16_t a[16 * (MAXK + 1)];
    static int32_t c[3][16 * LDC];
    for (int trial = 0; trial < 60; trial++) {
        int M = rnd_in(1, 16), N = rnd_in(1, MAXN), K = rnd_in(1, MAXK), k2 = tq_qgemm_k2(K);
        bool extreme = trial % 5 == 0;
        const int16_t *brows[MAXK + 1];
        for (int k = 0; k < k2; k++) {
            for (int n = 0; n < N + 16; n++)
                bmem[k][n] = (int16_t)(k < K ? (extreme ? -255 : rnd_in(-255, 255)) : 0);
            brows[k] = bmem[k];
        }
        for (int i = 0; i < M * k2; i++)
            a[i] = (int16_t)(i % k2 < K ? (extreme ? -255 : rnd_in(-255, 255)) : 0);
        int32_t init[16];
        for (int m = 0; m < M; m++)
            init[m] = rnd_in(-1000, 1000);
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < 16 * LDC; i++)
                c[t][i] = 0x5A5A5A5A;
            tabs[t]->qgemm_ind(M, N, k2, a, (size_t)k2, brows, trial & 1 ? init : NULL, c[t], LDC);
        }
        assert_memory_equal(c[0], c[1], sizeof c[0]);
        assert_memory_equal(c[0], c[2], sizeof c[0]);
        for (int m = 0; m < M; m++) {
            for (int n = 0; n < N; n++) {
                int64_t ref = trial & 1 ? init[m] : 0;
                for (int k = 0; k < K; k++)
                    ref += (int64_t)a[m * k2 + k] * bmem[k][n];
                assert_true(c[0][m * LDC + n] == ref);
            }
            assert_int_equal(c[0][m * LDC + N], 0x5A5A5A5A);
        }
    }
    /* qgemm_c4: u8 x s8 channel quads, extremes included */
    for (int trial = 0; trial < 40; trial++) {
        int M = rnd_in(1, 19), N = rnd_in(1, 50), KQ = rnd_in(1, 9);
        static uint8_t b4[9][4 * (50 + 16)];
        static int8_t w4[19 * 4 * 9];
        const uint8_t *rows[9];
        for (int q = 0; q < KQ; q++) {
            for (int i = 0; i < 4 * (N + 16); i++)
                b4[q][i] = trial % 7 == 0 ? 255 : (uint8_t)rnd();
            rows[q] = b4[q];
        }
        for (int i = 0; i < M * 4 * KQ; i++)
            w4[i] = trial % 7 == 0 ? -128 : (int8_t)rnd();
        int32_t init[19];
        for (int m = 0; m < M; m++)
            init[m] = rnd_in(-100000, 100000);
        static int32_t cbig[3][19 * 64];
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < 19 * 64; i++)
                cbig[t][i] = 0x5A5A5A5A;
            tabs[t]->qgemm_c4(M, N, KQ, w4, rows, init, cbig[t], 64);
        }
        assert_memory_equal(cbig[0], cbig[1], sizeof cbig[0]);
        assert_memory_equal(cbig[0], cbig[2], sizeof cbig[0]);
        for (int m = 0; m < M; m++) {
            for (int n = 0; n < N; n++) {
                int64_t ref = init[m];
                for (int q = 0; q < KQ; q++)
                    for (int j = 0; j < 4; j++)
                        ref += (int64_t)b4[q][4 * n + j] * w4[m * 4 * KQ + 4 * q + j];
                assert_true(cbig[0][m * 64 + n] == ref);
            }
            assert_int_equal(cbig[0][m * 64 + N], 0x5A5A5A5A);
        }
    }
    /* qgemm_c4s: s8 x s8 channel quads by the sign trick (weights in
     * [-127, 127]); extremes -128 / 127 activations with -127 / 127 weights
     * are where vpmaddubsw would saturate if the trick were wrong */
    for (int trial = 0; trial < 60; trial++) {
        int M = rnd_in(1, 19), N = rnd_in(1, 50), KQ = rnd_in(1, 9);
        static int8_t b4s[9][4 * (50 + 16)];
        static int8_t w4s[19 * 4 * 9];
        const int8_t *rows[9];
        int ext = trial % 6; /* 0: -128 x -127, 1: -128 x 127, 2: 127 x 127, else random */
        for (int q = 0; q < KQ; q++) {
            for (int i = 0; i < 4 * (N + 16); i++)
                b4s[q][i] = ext == 0 || ext == 1 ? -128 : ext == 2 ? 127 : (int8_t)rnd();
            rows[q] = b4s[q];
        }
        for (int i = 0; i < M * 4 * KQ; i++) {
            int8_t v = ext == 0 ? -127 : ext == 1 || ext == 2 ? 127 : (int8_t)rnd();
            w4s[i] = v == -128 ? -127 : v;
        }
        if (ext == 3) /* mixed extremes, zeros included (vpsignb zeroes there) */
            for (int q = 0; q < KQ; q++)
                for (int i = 0; i < 4 * N; i++)
                    b4s[q][i] = (int8_t[]){ -128, 127, 0, -1, 1 }[rnd() % 5];
        int32_t init[19];
        for (int m = 0; m < M; m++)
            init[m] = rnd_in(-100000, 100000);
        static int32_t cs[3][19 * 64];
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < 19 * 64; i++)
                cs[t][i] = 0x5A5A5A5A;
            tabs[t]->qgemm_c4s(M, N, KQ, w4s, rows, trial & 1 ? init : NULL, cs[t], 64);
        }
        assert_memory_equal(cs[0], cs[1], sizeof cs[0]);
        assert_memory_equal(cs[0], cs[2], sizeof cs[0]);
        for (int m = 0; m < M; m++) {
            for (int n = 0; n < N; n++) {
                int64_t ref = trial & 1 ? init[m] : 0;
                for (int q = 0; q < KQ; q++)
                    for (int j = 0; j < 4; j++)
                        ref += (int64_t)b4s[q][4 * n + j] * w4s[m * 4 * KQ + 4 * q + j];
                assert_true(cs[0][m * 64 + n] == ref);
            }
            assert_int_equal(cs[0][m * 64 + N], 0x5A5A5A5A);
        }
        for (int m = M; m < 19; m++) /* rows past M untouched */
            assert_int_equal(cs[1][m * 64], 0x5A5A5A5A);
    }
    for (int n = 1; n <= 40; n += 3) { /* deint2_u32 */
        uint32_t src[80], ev[3][41], od[3][41];
        for (int i = 0; i < 2 * n; i++)
            src[i] = rnd() * 2654435761u;
        memset(ev, 0xA5, sizeof ev);
        memset(od, 0xA5, sizeof od);
        for (int t = 0; t < 3; t++)
            tabs[t]->deint2_u32(ev[t], od[t], src, n);
        assert_memory_equal(ev[0], ev[1], sizeof ev[0]);
        assert_memory_equal(ev[0], ev[2], sizeof ev[0]);
        assert_memory_equal(od[0], od[1], sizeof od[0]);
        assert_memory_equal(od[0], od[2], sizeof od[0]);
        for (int i = 0; i < n; i++) {
            assert_true(ev[0][i] == src[2 * i]);
            assert_true(od[0][i] == src[2 * i + 1]);
        }
        assert_true(ev[0][n] == 0xA5A5A5A5u && od[0][n] == 0xA5A5A5A5u);
    }
    for (int n = 1; n <= 70; n += 3) { /* qadd2: every table version vs C, bit for bit */
        uint8_t a8[70], b8[70];
        for (int i = 0; i < n; i++) {
            a8[i] = (uint8_t)rnd();
            b8[i] = (uint8_t)rnd();
        }
        tq_qbranch ba = { rnd_in(-128, 255), n & 1, n % 3 != 0, 0.0173f, 0.91f, -0.37f };
        tq_qbranch bb = { rnd_in(-128, 127), 1, 1, 0.0041f, 1.7f, 0.125f };
        float out[3][71];
        for (int with_b = 0; with_b < 2; with_b++) {
            memset(out, 0x5A, sizeof out);
            for (int t = 0; t < 3; t++)
                tabs[t]->qadd2(out[t], a8, &ba, with_b ? b8 : NULL, &bb, n);
            assert_memory_equal(out[0], out[1], sizeof out[0]);
            assert_memory_equal(out[0], out[2], sizeof out[0]);
            for (int i = 0; i < n; i++) {
                int qa = ba.is_signed ? (int8_t)a8[i] : a8[i], qb = (int8_t)b8[i];
                volatile float va = (float)(qa - ba.zp) * ba.scale;
                if (ba.has_affine) {
                    va = va * ba.mul;
                    va = va + ba.add;
                }
                volatile float vb = (float)(qb - bb.zp) * bb.scale;
                vb = vb * bb.mul;
                vb = vb + bb.add;
                float want = with_b ? va + vb : va;
                assert_memory_equal(&out[0][i], &want, sizeof want);
            }
        }
    }
    for (size_t n = 1; n <= 200; n += 13) { /* lut8: every table version vs C */
        uint8_t table[256], src[200], a8[201], b8[201];
        for (int i = 0; i < 256; i++)
            table[i] = (uint8_t)rnd();
        for (size_t i = 0; i < n; i++)
            src[i] = (uint8_t)rnd();
        src[0] = 0;
        src[n - 1] = 255;
        memset(a8, 0xA5, sizeof a8);
        memset(b8, 0xA5, sizeof b8);
        tq_lut8_c(a8, src, n, table);
        tq_cpu_set_mask(~0u);
        tq_lut8_get()(b8, src, n, table);
        assert_memory_equal(a8, b8, sizeof a8);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(a8[i], table[src[i]]);
        assert_int_equal(a8[n], 0xA5);
    }
    for (int n = 1; n <= 60; n += 3) /* gather_u8 */
        for (int step = 1; step <= 3; step++) {
            uint8_t *src = malloc((size_t)((n - 1) * step + 1)), out[3][61];
            assert_non_null(src);
            for (int i = 0; i < (n - 1) * step + 1; i++)
                src[i] = (uint8_t)rnd();
            memset(out, 0xA5, sizeof out);
            for (int t = 0; t < 3; t++)
                tabs[t]->gather_u8(out[t], src, n, step);
            assert_memory_equal(out[0], out[1], sizeof out[0]);
            assert_memory_equal(out[0], out[2], sizeof out[0]);
            for (int i = 0; i < n; i++)
                assert_int_equal(out[0][i], src[i * step]);
            assert_int_equal(out[0][n], 0xA5);
            free(src);
        }
    for (int n = 1; n <= 50; n += 7) { /* interleave4 */
        uint8_t rows[4][50], out[3][4 * 50 + 1];
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < n; i++)
                rows[j][i] = (uint8_t)rnd();
        const uint8_t *src[4] = { rows[0], rows[1], rows[2], rows[3] };
        memset(out, 0xA5, sizeof out);
        for (int t = 0; t < 3; t++)
            tabs[t]->interleave4(out[t], src, n, n & 1 ? 0x80 : 0);
        assert_memory_equal(out[0], out[1], sizeof out[0]);
        assert_memory_equal(out[0], out[2], sizeof out[0]);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 4; j++)
                assert_int_equal(out[0][4 * i + j], rows[j][i] ^ (n & 1 ? 0x80 : 0));
        assert_int_equal(out[0][4 * n], 0xA5);
    }
    for (int n = 1; n <= 40; n++)
        for (int step = 1; step <= 3; step++) {
            uint8_t src[3 * 40];
            for (int i = 0; i < 3 * 40; i++)
                src[i] = (uint8_t)rnd();
            int zp = rnd_in(-128, 255);
            int16_t w[3][41];
            int32_t acc[40];
            uint8_t q[3][41];
            for (int i = 0; i < n; i++)
                acc[i] = rnd_in(-300000, 300000);
            float mult = 1.0f / (float)rnd_in(1, 3000);
            memset(w, 0x5A, sizeof w);
            memset(q, 0xA5, sizeof q);
            for (int t = 0; t < 3; t++) {
                /* only the bytes the kernel may read: src[(n - 1) * step] last */
                uint8_t *exact = malloc((size_t)((n - 1) * step + 1));
                assert_non_null(exact);
                memcpy(exact, src, (size_t)((n - 1) * step + 1));
                tabs[t]->widen_s16(w[t], exact, n, step, zp, step == 2);
                free(exact);
                tabs[t]->requant(acc, n, mult, zp & 0x7f, step == 3, q[t]);
            }
            assert_memory_equal(w[0], w[1], sizeof w[0]);
            assert_memory_equal(w[0], w[2], sizeof w[0]);
            assert_memory_equal(q[0], q[1], sizeof q[0]);
            assert_memory_equal(q[0], q[2], sizeof q[0]);
            for (int i = 0; i < n; i++) {
                int v = step == 2 ? (int8_t)src[i * step] : src[i * step];
                assert_int_equal(w[0][i], v - zp);
            }
            assert_int_equal(w[0][n], 0x5A5A);
            assert_int_equal(q[0][n], 0xA5);
        }
}

typedef struct dw_case {
    int c, ih, iw, cout, dense, /* dense: group 1, cout x c weights */ kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    bool x_signed, w_signed, w_const;
    int x_zp;
    bool sym_w; /* weight zero points 0 (else random half the time) */
} dw_case;

static int64_t out_len(int in, int k, int s, int d, int p0, int p1)
{
    return (in + p0 + p1 - ((int64_t)(k - 1) * d + 1)) / s + 1;
}

static int xval(const dw_case *k, const uint8_t *x, int64_t i)
{
    return k->x_signed ? (int8_t)x[i] : x[i];
}

/* Naive exact convolution: acc[c][oy][ox] (int64). */
static void reference(const dw_case *k, const uint8_t *x, const uint8_t *w, const uint8_t *wzp,
                      int64_t oh, int64_t ow, int64_t *acc)
{
    if (k->dense) {
        for (int o = 0; o < k->cout; o++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t s = 0;
                    for (int c = 0; c < k->c; c++)
                        for (int ky = 0; ky < k->kh; ky++)
                            for (int kx = 0; kx < k->kw; kx++) {
                                int64_t iy = oy * k->sh - k->pt + (int64_t)ky * k->dh;
                                int64_t ix = ox * k->sw - k->pl + (int64_t)kx * k->dw;
                                int xv = k->x_zp;
                                if (iy >= 0 && iy < k->ih && ix >= 0 && ix < k->iw)
                                    xv = xval(k, x, ((int64_t)c * k->ih + iy) * k->iw + ix);
                                int wi = ((o * k->c + c) * k->kh + ky) * k->kw + kx;
                                int wv = k->w_signed ? (int8_t)w[wi] : w[wi];
                                int wz = k->w_signed ? (int8_t)wzp[o] : wzp[o];
                                s += (int64_t)(xv - k->x_zp) * (wv - wz);
                            }
                    acc[((int64_t)o * oh + oy) * ow + ox] = s;
                }
        return;
    }
    for (int c = 0; c < k->c; c++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t s = 0;
                for (int ky = 0; ky < k->kh; ky++)
                    for (int kx = 0; kx < k->kw; kx++) {
                        int64_t iy = oy * k->sh - k->pt + (int64_t)ky * k->dh;
                        int64_t ix = ox * k->sw - k->pl + (int64_t)kx * k->dw;
                        int xv = k->x_zp; /* padding is the zero point */
                        if (iy >= 0 && iy < k->ih && ix >= 0 && ix < k->iw)
                            xv = xval(k, x, ((int64_t)c * k->ih + iy) * k->iw + ix);
                        int wi = (c * k->kh + ky) * k->kw + kx;
                        int wv = k->w_signed ? (int8_t)w[wi] : w[wi];
                        int wz = k->w_signed ? (int8_t)wzp[c] : wzp[c];
                        s += (int64_t)(xv - k->x_zp) * (wv - wz);
                    }
                acc[((int64_t)c * oh + oy) * ow + ox] = s;
            }
}

static void add_ints(tq_node *n, const char *name, const int64_t *v, int cnt)
{
    tq_attr *a = tq_node_add_attr(n, name, TQ_ATTR_INTS);
    assert_non_null(a);
    a->ints = malloc(sizeof(int64_t) * (size_t)cnt);
    assert_non_null(a->ints);
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
    a->n = cnt;
}

static void set_attrs(op_run *r, const dw_case *k)
{
    tq_attr *g = tq_node_add_attr(r->node, "group", TQ_ATTR_INT);
    assert_non_null(g);
    g->i = k->dense ? 1 : k->c;
    int64_t ks[2] = { k->kh, k->kw }, st[2] = { k->sh, k->sw }, dl[2] = { k->dh, k->dw };
    int64_t pads[4] = { k->pt, k->pl, k->pb, k->pr };
    add_ints(r->node, "kernel_shape", ks, 2);
    add_ints(r->node, "strides", st, 2);
    add_ints(r->node, "dilations", dl, 2);
    add_ints(r->node, "pads", pads, 4);
}

static void run_case(const dw_case *k, bool qlinear)
{
    int nout = k->dense ? k->cout : k->c;
    int64_t xd[4] = { 1, k->c, k->ih, k->iw };
    int64_t wd[4] = { nout, k->dense ? k->c : 1, k->kh, k->kw };
    int64_t oh = out_len(k->ih, k->kh, k->sh, k->dh, k->pt, k->pb);
    int64_t ow = out_len(k->iw, k->kw, k->sw, k->dw, k->pl, k->pr);
    size_t xn = (size_t)(k->c * k->ih * k->iw), wn = (size_t)(nout * wd[1] * k->kh * k->kw);
    size_t on = (size_t)((int64_t)nout * oh * ow);
    uint8_t *x = malloc(xn), *w = malloc(wn), wzp[64];
    int64_t *ref = malloc(sizeof(int64_t) * on);
    assert_true(x && w && ref);
    for (size_t i = 0; i < xn; i++)
        x[i] = (uint8_t)rnd();
    /* half the cases have no int8 weight -128: the AVX2 sign-trick path */
    bool no_min = k->w_signed && (rnd() & 1);
    for (size_t i = 0; i < wn; i++) {
        w[i] = (uint8_t)rnd();
        if (no_min && w[i] == 0x80)
            w[i] = 0x81;
    }
    /* symmetric weights: the channel-quad paths (VNNI, u8s8, sign trick) */
    bool zero_wzp = k->sym_w || (rnd() & 1);
    for (int c = 0; c < nout; c++)
        wzp[c] = zero_wzp ? 0 : (uint8_t)rnd();
    reference(k, x, w, wzp, oh, ow, ref);
    tq_dtype xt = k->x_signed ? TQ_INT8 : TQ_UINT8, wt = k->w_signed ? TQ_INT8 : TQ_UINT8;
    uint8_t xz = (uint8_t)k->x_zp;
    int64_t cd[1] = { nout };
    op_run r;
    assert_int_equal(run_init(&r, qlinear ? "QLinearConv" : "ConvInteger", 13, 1), TQ_OK);
    set_attrs(&r, k);
    float xs = 0.5f, ws[64], ys = 37.0f;
    for (int c = 0; c < nout; c++)
        ws[c] = 0.25f + 0.125f * (float)(c % 5);
    int8_t yz = -3;
    if (qlinear) {
        assert_int_equal(run_input(&r, "x", xt, 4, xd, x, false), TQ_OK);
        assert_int_equal(run_input(&r, "xs", TQ_FLOAT, 0, NULL, &xs, true), TQ_OK);
        assert_int_equal(run_input(&r, "xz", xt, 0, NULL, &xz, true), TQ_OK);
        assert_int_equal(run_input(&r, "w", wt, 4, wd, w, k->w_const), TQ_OK);
        assert_int_equal(run_input(&r, "ws", TQ_FLOAT, 1, cd, ws, true), TQ_OK);
        assert_int_equal(run_input(&r, "wz", wt, 1, cd, wzp, k->w_const), TQ_OK);
        assert_int_equal(run_input(&r, "ys", TQ_FLOAT, 0, NULL, &ys, true), TQ_OK);
        assert_int_equal(run_input(&r, "yz", TQ_INT8, 0, NULL, &yz, true), TQ_OK);
    } else {
        assert_int_equal(run_input(&r, "x", xt, 4, xd, x, false), TQ_OK);
        assert_int_equal(run_input(&r, "w", wt, 4, wd, w, k->w_const), TQ_OK);
        assert_int_equal(run_input(&r, "xz", xt, 0, NULL, &xz, true), TQ_OK);
        assert_int_equal(run_input(&r, "wz", wt, 1, cd, wzp, k->w_const), TQ_OK);
    }
    int rc = run_exec(&r);
    if (rc)
        fail_msg("%s", r.err.msg);
    const tq_value *y = r.out[0];
    assert_int_equal(tq_value_numel(y), (int64_t)on);
    for (size_t i = 0; i < on; i++) {
        if (!qlinear) {
            assert_true(((const int32_t *)y->data)[i] == ref[i]);
            continue;
        }
        /* ONNX Runtime's float requantisation (qcommon.h), from the exact acc */
        int c = (int)(i / (size_t)(oh * ow));
        float mult = xs * ws[c] / ys;
        float t = rintf((float)ref[i] * mult) + (float)yz;
        t = t < -128.0f ? -128.0f : (t > 127.0f ? 127.0f : t);
        assert_int_equal(((const int8_t *)y->data)[i], (int)t);
    }
    run_free(&r);
    free(x);
    free(w);
    free(ref);
}

static dw_case random_case(void)
{
    dw_case k;
    k.c = rnd_in(1, 6);
    k.dense = rnd() & 1;
    k.cout = rnd_in(1, 9);
    k.kh = rnd_in(1, 5);
    k.kw = rnd_in(1, 5);
    k.sh = rnd_in(1, 3);
    k.sw = rnd_in(1, 3);
    k.dh = rnd_in(1, 2);
    k.dw = rnd_in(1, 2);
    k.pt = rnd_in(0, 2);
    k.pl = rnd_in(0, 2);
    k.pb = rnd_in(0, 2);
    k.pr = rnd_in(0, 2);
    k.ih = rnd_in((k.kh - 1) * k.dh + 1, 40);
    k.iw = rnd_in((k.kw - 1) * k.dw + 1, 45);
    k.x_signed = rnd() & 1;
    k.w_signed = rnd() & 1;
    k.w_const = rnd() & 1;
    k.x_zp = k.x_signed ? rnd_in(-128, 127) : rnd_in(0, 255);
    return k;
}

static void test_convinteger_random(void **st)
{
    (void)st;
    const unsigned masks[3] = { 0u, TQ_CPU_FLAG_AVX2, ~0u }; /* C, AVX2, AVX2 + VNNI */
    for (int mi = 0; mi < 3; mi++) {
        tq_cpu_set_mask(masks[mi]);
        for (int i = 0; i < 60; i++) {
            dw_case k = random_case();
            run_case(&k, false);
        }
        /* the seed models' shapes: 3x3 stride 2 pad 1 on an even plane */
        dw_case s = { 3, 56, 56, 0, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false, true, true, 131 };
        run_case(&s, false);
        dw_case t = { 16, 20, 37, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false, true, true, 77 };
        run_case(&t, false);
        dw_case u = { 5, 15, 15, 9, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true, true, -5 };
        run_case(&u, false);
        dw_case v2 = { 8, 28, 27, 16, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true, true, 9 };
        run_case(&v2, false);
        dw_case w2 = { 8, 14, 14, 8, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, false, true, true, 200 };
        run_case(&w2, false);
        /* dense stride 1 and 2 on the channel-quad image of a small plane:
         * pad columns, dilation, row parities (qcommon.h c4_shift), output
         * widths around 8 and 16 */
        for (int i = 0; i < 16; i++) {
            dw_case k = random_case();
            k.dense = 1, k.w_signed = k.w_const = k.sym_w = true;
            k.sh = rnd_in(1, 2), k.sw = rnd_in(1, 2);
            k.cout = 4 * rnd_in(1, 3);
            k.iw = rnd_in((k.kw - 1) * k.dw + 1, 24);
            run_case(&k, false);
            run_case(&k, true);
        }
    }
    tq_cpu_set_mask(~0u);
}

static void test_qlinearconv_random(void **st)
{
    (void)st;
    const unsigned masks[3] = { 0u, TQ_CPU_FLAG_AVX2, ~0u }; /* C, AVX2, AVX2 + VNNI */
    for (int mi = 0; mi < 3; mi++) {
        tq_cpu_set_mask(masks[mi]);
        for (int i = 0; i < 40; i++) {
            dw_case k = random_case();
            run_case(&k, true);
        }
    }
    tq_cpu_set_mask(~0u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dw_taps_kernel),
        cmocka_unit_test(test_gemm_widen_requant_kernels),
        cmocka_unit_test(test_convinteger_random),
        cmocka_unit_test(test_qlinearconv_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
