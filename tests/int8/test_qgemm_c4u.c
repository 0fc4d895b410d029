/* The bounded u8 x s8 channel-quad kernel (kernels/qgemm.h qgemm_c4u, AVX2
 * version x86/qgemm_u8s8_avx2.c: plain saturating vpmaddubsw) and its
 * selection:
 *  - tq_qgemm_c4u_fits accepts exactly the weight quads whose vpmaddubsw
 *    pairs cannot saturate (255 * (|w_a| + |w_b|) <= 32767);
 *  - the AVX2 kernel equals the C reference and a naive int64 dot product
 *    written here, bit for bit, on random odd sizes and on the worst cases
 *    (all activations 255 with pairs +-64 / +-64, 127 / 1, -128 / 0);
 *  - the saturating case itself: a raw vpmaddubsw on 255 x (127, 127) gives
 *    32767, not 64770 -- what the selection guards against;
 *  - the pairing schedule (two quads per vpmaddwd where their int16 lane
 *    provably fits; full-range quads split in two): its steps add up to
 *    the weights, and qgemm_c4u_pairs equals the C reference on small,
 *    one-signed (with all-255 activations, where a wrong pair would
 *    overflow), near-bound and full-range (127 / -128) weights;
 *  - through QLinearConv at TQ_CPU_MASK=1 (AVX2 without VNNI): reduce-range
 *    weights (which take qgemm_c4u) and full-range weights with saturating
 *    pairs (which must not) both equal a naive int64 convolution and ONNX
 *    Runtime's float requantisation formula, for u8 and s8 inputs. */
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

#if defined(TQ_HAVE_AVX2)
#include <immintrin.h>
#endif

#define SENTINEL 0x5A5A5A5A

#define QRAND_SEED 0x2545F4914F6CDD1Dull
#include "qrand.h"

static void test_fits_boundaries(void **st)
{
    (void)st;
    const int8_t ok[][4] = { { 64, 64, -64, -64 }, { 127, 1, 1, 127 }, { -128, 0, 0, -128 },
                             { 100, -28, -28, 100 }, { 0, 0, 0, 0 } };
    const int8_t bad[][4] = { { 65, 64, 0, 0 }, { 0, 0, -64, -65 }, { -128, 1, 0, 0 },
                              { 127, 127, 0, 0 }, { 0, 0, 127, -2 } };
    for (int i = 0; i < 5; i++) {
        assert_true(tq_qgemm_c4u_fits(ok[i], 1));
        assert_false(tq_qgemm_c4u_fits(bad[i], 1));
        /* one bad quad anywhere refuses the whole matrix */
        int8_t m[16];
        for (int j = 0; j < 4; j++)
            memcpy(m + 4 * j, j == i % 4 ? bad[i] : ok[i], 4);
        assert_false(tq_qgemm_c4u_fits(m, 4));
    }
    /* weights across the pair boundary (w1, w2) are not a vpmaddubsw pair */
    const int8_t cross[4] = { 0, 127, 127, 0 };
    assert_true(tq_qgemm_c4u_fits(cross, 1));
}

#if defined(TQ_HAVE_AVX2)
/* One vpmaddubsw of 255 with the weight byte wb everywhere: lane 0. */
__attribute__((target("avx2"))) static int16_t maddubs_255(int8_t wb)
{
    int16_t out[16];
    __m256i a = _mm256_set1_epi8((char)0xFF), w = _mm256_set1_epi8(wb);
    _mm256_storeu_si256((__m256i *)(void *)out, _mm256_maddubs_epi16(a, w));
    return out[0];
}
#endif

/* The reason for the bound: vpmaddubsw saturates 255*127 + 255*127. */
static void test_vpmaddubsw_saturates(void **st)
{
    (void)st;
#if defined(TQ_HAVE_AVX2)
    if (!(tq_cpu_flags() & TQ_CPU_FLAG_AVX2))
        skip();
    assert_int_equal(maddubs_255(127), 32767);   /* not 64770 */
    assert_int_equal(maddubs_255(64), 32640);    /* 255 * 128: exact */
    assert_int_equal(maddubs_255(-64), -32640);
#else
    skip();
#endif
}

/* Weights for a quad whose pairs fit: mode 0 random in the fitting set,
 * 1: +64 everywhere, 2: -64 everywhere, 3: (127, 1) / (-128, 0) extremes. */
static void fitting_quad(int8_t *q, int mode)
{
    for (int p = 0; p < 2; p++) {
        int a, b;
        if (mode == 1) {
            a = b = 64;
        } else if (mode == 2) {
            a = b = -64;
        } else if (mode == 3) {
            a = p ? -128 : 127;
            b = p ? 0 : 1;
        } else {
            a = rnd_in(-128, 127);
            int room = TQ_C4U_PAIR_MAX - abs(a);
            b = rnd_in(-room, room < 127 ? room : 127);
        }
        q[2 * p] = (int8_t)a;
        q[2 * p + 1] = (int8_t)b;
    }
}

static const tq_qdsp *avx2_table(void)
{
    tq_cpu_set_mask(TQ_CPU_FLAG_AVX2);
    const tq_qdsp *d = tq_qdsp_get();
    tq_cpu_set_mask(~0u);
    return d;
}

static void run_kernel_case(int M, int N, int KQ, int mode)
{
    const tq_qdsp *simd = avx2_table();
    size_t row_bytes = 4 * (size_t)(N + 16); /* the kernel reads 16 pixels past N */
    uint8_t *img = malloc(row_bytes * (size_t)KQ);
    int8_t *w = malloc((size_t)M * 4 * (size_t)KQ);
    const uint8_t **brows = malloc(sizeof(uint8_t *) * (size_t)KQ);
    int32_t *init = malloc(sizeof(int32_t) * (size_t)M);
    size_t ldc = (size_t)N + 3;
    int32_t *c_ref = malloc(sizeof(int32_t) * ldc * (size_t)M);
    int32_t *c_simd = malloc(sizeof(int32_t) * ldc * (size_t)M);
    assert_true(img && w && brows && init && c_ref && c_simd);
    for (size_t i = 0; i < row_bytes * (size_t)KQ; i++)
        img[i] = mode == 0 ? (uint8_t)rnd() : 255;
    for (int q = 0; q < KQ; q++)
        brows[q] = img + (size_t)q * row_bytes;
    for (int i = 0; i < M * KQ; i++)
        fitting_quad(w + 4 * i, mode);
    assert_true(tq_qgemm_c4u_fits(w, (size_t)M * (size_t)KQ));
    for (int m = 0; m < M; m++)
        init[m] = rnd_in(-1000000, 1000000);
    for (size_t i = 0; i < ldc * (size_t)M; i++)
        c_ref[i] = c_simd[i] = SENTINEL;
    tq_qgemm_c4_c(M, N, KQ, w, brows, init, c_ref, ldc);
    simd->qgemm_c4u(M, N, KQ, w, brows, init, c_simd, ldc);
    assert_memory_equal(c_ref, c_simd, sizeof(int32_t) * ldc * (size_t)M);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < (int)ldc; n++) {
            int32_t got = c_simd[(size_t)m * ldc + (size_t)n];
            if (n >= N) {
                assert_int_equal(got, SENTINEL);
                continue;
            }
            int64_t ref = init[m];
            for (int q = 0; q < KQ; q++)
                for (int j = 0; j < 4; j++)
                    ref += (int64_t)brows[q][4 * n + j] * w[(size_t)m * 4 * KQ + 4 * q + j];
            assert_true(got == ref);
        }
    /* row_init NULL starts at 0 */
    tq_qgemm_c4_c(M, N, KQ, w, brows, NULL, c_ref, ldc);
    simd->qgemm_c4u(M, N, KQ, w, brows, NULL, c_simd, ldc);
    assert_memory_equal(c_ref, c_simd, sizeof(int32_t) * ldc * (size_t)M);
    free(img);
    free(w);
    free(brows);
    free(init);
    free(c_ref);
    free(c_simd);
}

static void test_kernel_matches_c(void **st)
{
    (void)st;
    if (!(tq_cpu_flags() & TQ_CPU_FLAG_AVX2))
        skip();
    for (int mode = 0; mode < 4; mode++)
        for (int M = 1; M <= 9; M += (M < 5 ? 1 : 4))
            for (int N = 1; N <= 41; N += 5)
                run_kernel_case(M, N, rnd_in(1, 30), mode);
    run_kernel_case(32, 200, 72, 0); /* the CNN's size class */
    run_kernel_case(16, 33, 512, 1); /* long sums of the worst case */
}

/* ---- the pairing schedule (qgemm.h tq_c4u_pairs, qgemm_c4u_pairs) */

/* Weight quad for the pairing cases: mode 0 small (|w| <= 32: any two quads
 * pair), 1 non-negative in [0, 64] and 2 non-positive in [-64, 0] (with
 * all-255 activations an int16 lane of a wrongly paired quad overflows),
 * 3 a mix of zero quads, small quads and pair sums near the bound; full
 * range (the schedule splits quads over the bound): 4 random int8, 5 the
 * extremes 127 / -128 mixed with small weights, 6 non-negative up to 127. */
static void pairing_quad(int8_t *q, int mode)
{
    int kind = mode == 3 ? rnd_in(0, 3) : -1;
    for (int j = 0; j < 4; j++) {
        int v;
        if (mode == 0 || kind == 1)
            v = rnd_in(-32, 32);
        else if (mode == 1)
            v = rnd_in(0, 64);
        else if (mode == 2)
            v = -rnd_in(0, 64);
        else if (mode == 4)
            v = rnd_in(-128, 127);
        else if (mode == 5)
            v = rnd() % 3 == 0 ? (rnd() & 1 ? 127 : -128) : rnd_in(-8, 8);
        else if (mode == 6)
            v = rnd_in(0, 127);
        else if (kind == 0)
            v = 0;
        else if (kind == 2)
            v = (j & 1) ? rnd_in(0, 4) : 60; /* pair sums 60..64: two fit, three do not */
        else
            v = (j & 1) ? -rnd_in(0, 4) : -60;
        q[j] = (int8_t)v;
    }
}

/* One byte pair of one row: 255 * each sign's sum fits int16. */
static void assert_pair_fits(int x, int y)
{
    assert_true((x > 0 ? x : 0) + (y > 0 ? y : 0) <= TQ_C4U_PAIR_MAX);
    assert_true((x < 0 ? -x : 0) + (y < 0 ? -y : 0) <= TQ_C4U_PAIR_MAX);
}

/* The steps of each block read real quads and their weights, with the
 * one-row corrections, add up to the block's weights quad by quad (a quad
 * once, twice when split, plus a correction per row over the bound); every
 * step's and correction's pairs are within the bound. */
static void check_schedule(const tq_c4u_pairs *p, const int8_t *w)
{
    int KQ = p->KQ;
    int32_t *sum = malloc(sizeof(int32_t) * 16 * (size_t)KQ);
    assert_non_null(sum);
    assert_true(p->stride >= 2 * KQ);
    for (int b = 0; b < p->blocks; b++) {
        memset(sum, 0, sizeof(int32_t) * 16 * (size_t)KQ);
        const uint32_t *ord = p->order + (size_t)b * (size_t)p->stride;
        const int8_t *wb = p->w + (size_t)b * (size_t)p->stride * 16;
        int steps = 2 * p->npairs[b] + p->nsingles[b];
        assert_true(steps <= p->stride);
        for (int i = 0; i < steps; i++) {
            assert_true(ord[i] < (uint32_t)KQ);
            for (int k = 0; k < 16; k++) {
                sum[16 * ord[i] + (uint32_t)k] += wb[16 * i + k];
                if (k % 2 == 0)
                    assert_pair_fits(wb[16 * i + k], wb[16 * i + k + 1]);
            }
        }
        const uint32_t *cq = p->corr_q + (size_t)b * (size_t)p->stride;
        const int8_t *cw = p->corr_w + (size_t)b * (size_t)p->stride * 4;
        int ncorr = 0;
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < p->ncorr[4 * b + r]; k++, ncorr++, cq++, cw += 4) {
                assert_true(*cq < (uint32_t)KQ);
                for (int j = 0; j < 4; j++)
                    sum[16 * *cq + 4 * (uint32_t)r + (uint32_t)j] += cw[j];
                assert_pair_fits(cw[0], cw[1]);
                assert_pair_fits(cw[2], cw[3]);
            }
        assert_true(ncorr <= p->stride);
        for (int q = 0; q < KQ; q++)
            for (int r = 0; r < 4; r++)
                for (int j = 0; j < 4; j++)
                    assert_int_equal(sum[16 * q + 4 * r + j],
                                     w[((size_t)b * 4 + (size_t)r) * 4 * (size_t)KQ +
                                       4 * (size_t)q + (size_t)j]);
    }
    free(sum);
}

static void run_pairs_case(int M, int N, int KQ, int mode, bool all255)
{
    const tq_qdsp *simd = avx2_table();
    assert_non_null(simd->qgemm_c4u_pairs);
    size_t row_bytes = 4 * (size_t)(N + 16);
    uint8_t *img = malloc(row_bytes * (size_t)KQ);
    int8_t *w = malloc((size_t)M * 4 * (size_t)KQ);
    const uint8_t **brows = malloc(sizeof(uint8_t *) * (size_t)KQ);
    int32_t *init = malloc(sizeof(int32_t) * (size_t)M);
    size_t ldc = (size_t)N + 5;
    int32_t *c_ref = malloc(sizeof(int32_t) * ldc * (size_t)M);
    int32_t *c_simd = malloc(sizeof(int32_t) * ldc * (size_t)M);
    assert_true(img && w && brows && init && c_ref && c_simd);
    for (size_t i = 0; i < row_bytes * (size_t)KQ; i++)
        img[i] = all255 ? 255 : (uint8_t)rnd();
    for (int q = 0; q < KQ; q++)
        brows[q] = img + (size_t)q * row_bytes;
    for (int i = 0; i < M * KQ; i++)
        pairing_quad(w + 4 * i, mode);
    /* full-range weights: only whole blocks of 4 rows (qgemm.h) */
    assert_true(mode >= 4 ? M % 4 == 0 : tq_qgemm_c4u_fits(w, (size_t)M * (size_t)KQ));
    for (int m = 0; m < M; m++)
        init[m] = rnd_in(-1000000, 1000000);
    tq_c4u_pairs p;
    assert_int_equal(tq_c4u_pairs_build(&p, M, KQ, w), 0);
    assert_int_equal(p.blocks, M / 4);
    check_schedule(&p, w);
    int pairs = 0;
    for (int b = 0; b < p.blocks; b++)
        pairs += p.npairs[b];
    if (mode == 0 && p.blocks > 0 && KQ >= 2) /* small weights: all pair up */
        assert_int_equal(pairs, p.blocks * (KQ / 2));
    for (int pass = 0; pass < 2; pass++) {
        const int32_t *ri = pass ? NULL : init;
        for (size_t i = 0; i < ldc * (size_t)M; i++)
            c_ref[i] = c_simd[i] = SENTINEL;
        tq_qgemm_c4_c(M, N, KQ, w, brows, ri, c_ref, ldc);
        simd->qgemm_c4u_pairs(&p, w, N, brows, ri, c_simd, ldc);
        assert_memory_equal(c_ref, c_simd, sizeof(int32_t) * ldc * (size_t)M);
    }
    tq_c4u_pairs_free(&p);
    free(img);
    free(w);
    free(brows);
    free(init);
    free(c_ref);
    free(c_simd);
}

static void test_pairs_match_c(void **st)
{
    (void)st;
    if (!(tq_cpu_flags() & TQ_CPU_FLAG_AVX2))
        skip();
    for (int mode = 0; mode < 7; mode++)
        for (int all255 = 0; all255 < 2; all255++) {
            for (int M = mode < 4 ? 1 : 4; M <= 13; M += (mode >= 4 ? 4 : M < 9 ? 1 : 4))
                for (int N = 1; N <= 41; N += 4)
                    run_pairs_case(M, N, rnd_in(1, 40), mode, all255);
            run_pairs_case(32, 200, 72, mode, all255);
            run_pairs_case(16, 33, 300, mode, all255);
            /* over 4096 steps per block: the linear-time pairing */
            run_pairs_case(4, 20, 4200, mode, all255);
        }
}

/* QLinearConv 3 x KW pad 1 stride s, group 1, CIN input channels, through
 * the real op, against a naive int64 convolution and ORT's float
 * requantisation. CIN = 1 with stride 1 takes the horizontal-tap quads
 * (qcommon.h c4_taps; KW = 5: two quads per kernel row, 3 zero slots). */
static void run_qlinearconv(bool x_signed, bool reduce_range, int stride, int CIN, int KW)
{
    enum { COUT = 7, IH = 11, IW = 13, KH = 3, MAXC = 6, MAXKW = 5 };
    int oh = (IH + 2 - KH) / stride + 1, ow = (IW + 2 - KW) / stride + 1;
    uint8_t x[MAXC * IH * IW];
    int8_t w[COUT * MAXC * KH * MAXKW], wzp[COUT] = { 0 };
    size_t xn = (size_t)CIN * IH * IW, wn = (size_t)COUT * CIN * KH * KW;
    for (size_t i = 0; i < xn; i++)
        x[i] = rnd() % 3 ? 255 : (uint8_t)rnd(); /* mostly the extreme u8 value */
    for (size_t i = 0; i < wn; i++) {
        int v = reduce_range ? (rnd() % 3 ? (rnd() & 1 ? 64 : -64) : rnd_in(-64, 64))
                             : (rnd() % 3 ? 127 : rnd_in(-127, 127));
        w[i] = (int8_t)v;
    }
    int xz = x_signed ? -7 : 9;
    float xs = 0.5f, ws[COUT], ys = (reduce_range ? 1000.0f : 4000.0f) * (float)(CIN * KW) / 18.0f;
    for (int c = 0; c < COUT; c++)
        ws[c] = 0.25f + 0.125f * (float)(c % 5);
    int8_t yz = 3;
    op_run r;
    assert_int_equal(run_init(&r, "QLinearConv", 13, 1), TQ_OK);
    int64_t ks[2] = { KH, KW }, strides[2] = { stride, stride }, pads[4] = { 1, 1, 1, 1 };
    const char *names[3] = { "kernel_shape", "strides", "pads" };
    const int64_t *vals[3] = { ks, strides, pads };
    int cnt[3] = { 2, 2, 4 };
    for (int a = 0; a < 3; a++) {
        tq_attr *at = tq_node_add_attr(r.node, names[a], TQ_ATTR_INTS);
        assert_non_null(at);
        at->ints = malloc(sizeof(int64_t) * (size_t)cnt[a]);
        assert_non_null(at->ints);
        memcpy(at->ints, vals[a], sizeof(int64_t) * (size_t)cnt[a]);
        at->n = cnt[a];
    }
    int64_t xd[4] = { 1, CIN, IH, IW }, wd[4] = { COUT, CIN, KH, KW }, cd[1] = { COUT };
    tq_dtype xt = x_signed ? TQ_INT8 : TQ_UINT8;
    uint8_t xzb = (uint8_t)xz;
    assert_int_equal(run_input(&r, "x", xt, 4, xd, x, false), TQ_OK);
    assert_int_equal(run_input(&r, "xs", TQ_FLOAT, 0, NULL, &xs, true), TQ_OK);
    assert_int_equal(run_input(&r, "xz", xt, 0, NULL, &xzb, true), TQ_OK);
    assert_int_equal(run_input(&r, "w", TQ_INT8, 4, wd, w, true), TQ_OK);
    assert_int_equal(run_input(&r, "ws", TQ_FLOAT, 1, cd, ws, true), TQ_OK);
    assert_int_equal(run_input(&r, "wz", TQ_INT8, 1, cd, wzp, true), TQ_OK);
    assert_int_equal(run_input(&r, "ys", TQ_FLOAT, 0, NULL, &ys, true), TQ_OK);
    assert_int_equal(run_input(&r, "yz", TQ_INT8, 0, NULL, &yz, true), TQ_OK);
    int rc = run_exec(&r);
    if (rc)
        fail_msg("%s", r.err.msg);
    const int8_t *y = r.out[0]->data;
    assert_int_equal(tq_value_numel(r.out[0]), (int64_t)COUT * oh * ow);
    for (int o = 0; o < COUT; o++)
        for (int py = 0; py < oh; py++)
            for (int px = 0; px < ow; px++) {
                int64_t acc = 0;
                for (int ci = 0; ci < CIN; ci++)
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++) {
                            int iy = py * stride + ky - 1, ix = px * stride + kx - 1;
                            if (iy < 0 || iy >= IH || ix < 0 || ix >= IW)
                                continue; /* padding = x_zp: contributes 0 */
                            uint8_t b = x[(ci * IH + iy) * IW + ix];
                            int xv = x_signed ? (int)(int8_t)b : (int)b;
                            acc += (int64_t)(xv - xz) * w[((o * CIN + ci) * KH + ky) * KW + kx];
                        }
                float t = rintf((float)acc * (xs * ws[o] / ys)) + (float)yz;
                t = t < -128.0f ? -128.0f : (t > 127.0f ? 127.0f : t);
                assert_int_equal(y[(o * oh + py) * ow + px], (int)t);
            }
    run_free(&r);
}

static void test_qlinearconv_selection(void **st)
{
    (void)st;
    const unsigned masks[3] = { 0u, TQ_CPU_FLAG_AVX2, ~0u }; /* C, AVX2, AVX2 + VNNI */
    for (int mi = 0; mi < 3; mi++) {
        tq_cpu_set_mask(masks[mi]);
        for (int xs = 0; xs < 2; xs++)
            for (int rr = 0; rr < 2; rr++)
                for (int s = 1; s <= 2; s++)
                    for (int cin = 1; cin <= 6; cin += 5)
                        for (int kw = 3; kw <= 5; kw += 2)
                            run_qlinearconv(xs, rr, s, cin, kw);
    }
    tq_cpu_set_mask(~0u);
}

/* The AVX2 requantisation (32 at a time with integer rounding and
 * saturating packs), short-row interleave and deint2 equal the C references: random
 * and extreme accumulators (INT32 limits, exact .5 ties, products far
 * outside the 8-bit range, an infinite and a NaN multiplier), all lengths
 * around the 32 / 8 / 16 steps, sentinels past the end. */
static void test_requant_interleave(void **st)
{
    (void)st;
    if (!(tq_cpu_flags() & TQ_CPU_FLAG_AVX2))
        skip();
    const tq_qdsp *simd = avx2_table();
    enum { MAXN = 131 };
    int32_t acc[MAXN];
    uint8_t a[MAXN + 1], b[MAXN + 1];
    const float mults[6] = { 1.0f / 1024.0f, 0.5f, 1.0f, 3e-7f, INFINITY, NAN };
    for (int n = 1; n <= MAXN; n++)
        for (int k = 0; k < 6; k++)
            for (int sgn = 0; sgn < 2; sgn++) {
                for (int i = 0; i < n; i++) {
                    int pick = (int)(rnd() % 5);
                    acc[i] = pick == 0   ? INT32_MAX
                             : pick == 1 ? INT32_MIN
                             : pick == 2 ? 1024 * rnd_in(-300, 300) + 512 /* tie at 1/1024 */
                                         : rnd_in(-2000000, 2000000);
                }
                int zp = sgn ? rnd_in(-128, 127) : rnd_in(0, 255);
                a[n] = b[n] = 0xA5;
                tq_requant_c(acc, n, mults[k], zp, sgn, a);
                simd->requant(acc, n, mults[k], zp, sgn, b);
                assert_memory_equal(a, b, (size_t)n + 1);
            }
    for (int n = 1; n <= 40; n++) {
        uint8_t rows[4][40], out_c[4 * 40 + 1], out_s[4 * 40 + 1];
        const uint8_t *src[4];
        for (int j = 0; j < 4; j++) {
            for (int i = 0; i < 40; i++)
                rows[j][i] = (uint8_t)rnd();
            src[j] = rows[j];
        }
        for (int flip = 0; flip <= 0x80; flip += 0x80) {
            memset(out_c, 0x5A, sizeof out_c);
            memset(out_s, 0x5A, sizeof out_s);
            tq_interleave4_c(out_c, src, n, (uint8_t)flip);
            simd->interleave4(out_s, src, n, (uint8_t)flip);
            assert_memory_equal(out_c, out_s, sizeof out_c);
            assert_int_equal(out_s[4 * n], 0x5A);
        }
    }
    /* quantize (separate and in-place buffers) and qadd2 tails */
    for (int n = 1; n <= 40; n++) {
        float x[40], xin[40], vo_c[41], vo_s[41];
        uint8_t q_c[41], q_s[41], qa[40], qb[40];
        for (int i = 0; i < n; i++) {
            x[i] = (float)rnd_in(-40000, 40000) / 64.0f;
            qa[i] = (uint8_t)rnd();
            qb[i] = (uint8_t)rnd();
        }
        q_c[n] = q_s[n] = 0xA5;
        tq_quantize_f32_c(x, (size_t)n, 0.75f, 3, n & 1, q_c);
        simd->quantize(x, (size_t)n, 0.75f, 3, n & 1, q_s);
        assert_memory_equal(q_c, q_s, (size_t)n + 1);
        memcpy(xin, x, sizeof(float) * (size_t)n); /* in place: bytes over the floats */
        simd->quantize(xin, (size_t)n, 0.75f, 3, n & 1, xin);
        assert_memory_equal(q_c, xin, (size_t)n);
        tq_qbranch ba = { 5, n & 1, 0, 0.125f, 1.0f, 0.0f }, bb = { 200, 0, 1, 0.5f, 1.5f, -2.0f };
        vo_c[n] = vo_s[n] = 1234.5f;
        tq_qadd2_c(vo_c, qa, &ba, n & 2 ? qb : NULL, &bb, n);
        simd->qadd2(vo_s, qa, &ba, n & 2 ? qb : NULL, &bb, n);
        assert_memory_equal(vo_c, vo_s, sizeof(float) * (size_t)(n + 1));
    }
    /* deint2_u32 (stride-2 column phases): every length, overlap included */
    for (int n = 1; n <= 40; n++) {
        uint32_t src[80], ev_c[41], od_c[41], ev_s[41], od_s[41];
        for (int i = 0; i < 2 * n; i++)
            src[i] = rnd();
        for (int i = 0; i <= n; i++)
            ev_c[i] = od_c[i] = ev_s[i] = od_s[i] = SENTINEL;
        tq_deint2_u32_c(ev_c, od_c, src, n);
        simd->deint2_u32(ev_s, od_s, src, n);
        assert_memory_equal(ev_c, ev_s, sizeof(uint32_t) * (size_t)(n + 1));
        assert_memory_equal(od_c, od_s, sizeof(uint32_t) * (size_t)(n + 1));
        assert_int_equal(ev_s[n], SENTINEL);
        for (int i = 0; i < n; i++)
            assert_true(ev_s[i] == src[2 * i] && od_s[i] == src[2 * i + 1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits_boundaries),
        cmocka_unit_test(test_vpmaddubsw_saturates),
        cmocka_unit_test(test_kernel_matches_c),
        cmocka_unit_test(test_pairs_match_c),
        cmocka_unit_test(test_qlinearconv_selection),
        cmocka_unit_test(test_requant_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
