/* checkasm-style tests of the int8 kernels (kernels/qgemm.h): the AVX2
 * versions must equal the C references bit for bit on random data, odd sizes
 * and extreme values, outputs pre-filled with a sentinel; and both must equal
 * a naive int64 dot product written here from the raw 8-bit operands. */
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/cpu.h"
#include "kernels/qgemm.h"

#define SENTINEL 0x5A5A5A5A

#define QRAND_SEED 0x9E3779B97F4A7C15ull
#include "qrand.h"

static const tq_qdsp *simd_table(void)
{
    tq_cpu_set_mask(~0u);
    return tq_qdsp_get();
}

/* mode 0: random, 1: max positive products, 2: most negative products */
static void run_gemm_case(int M, int N, int K, bool a_signed, bool b_signed, int mode)
{
    int k2 = tq_qgemm_k2(K);
    size_t ldb = tq_qgemm_ldb(N), lda = (size_t)k2 + 2, ldc = (size_t)N + 3;
    uint8_t *a8 = malloc((size_t)M * K + 1), *b8 = malloc((size_t)K * N + 1);
    uint8_t azp[64], bzp[64];
    int16_t *a = calloc((size_t)M * lda + 1, 2), *b = calloc((size_t)k2 * ldb + 1, 2);
    int32_t *c_ref = malloc(sizeof(int32_t) * (size_t)M * ldc + 4);
    int32_t *c_simd = malloc(sizeof(int32_t) * (size_t)M * ldc + 4);
    int32_t *init = malloc(sizeof(int32_t) * (size_t)M + 4);
    assert_non_null(a8);
    assert_non_null(c_simd);
    for (int i = 0; i < M * K; i++)
        a8[i] = mode == 0 ? (uint8_t)rnd() : (a_signed ? (uint8_t)(int8_t)-128 : 255);
    for (int i = 0; i < K * N; i++)
        b8[i] = mode == 0 ? (uint8_t)rnd()
                          : (uint8_t)(b_signed ? (mode == 1 ? -128 : 127) : (mode == 1 ? 255 : 0));
    for (int i = 0; i < 64; i++) {
        azp[i] = mode == 0 ? (uint8_t)rnd() : 0;
        bzp[i] = mode == 0 ? (uint8_t)rnd() : 0;
    }
    if (mode == 2 && !b_signed)
        for (int i = 0; i < 64; i++)
            bzp[i] = 255; /* b - zp = -255 */
    for (int m = 0; m < M; m++)
        init[m] = mode == 0 ? (int32_t)(rnd() % 2001) - 1000 : 0;
    /* per-row zp for A (row m uses azp[m % 64]), per-column for B */
    for (int m = 0; m < M; m++)
        tq_qpack_rows(1, K, a8 + (size_t)m * K, K, 1, a_signed, &azp[m % 64], 0, 0,
                      a + (size_t)m * lda, lda);
    uint8_t bzp_cols[4096];
    for (int n = 0; n < N; n++)
        bzp_cols[n] = bzp[n % 64];
    tq_qpack_rows(K, N, b8, N, 1, b_signed, bzp_cols, 0, 1, b, ldb);
    for (size_t i = 0; i < (size_t)M * ldc; i++)
        c_ref[i] = c_simd[i] = SENTINEL;
    tq_qgemm_s16_c(M, N, k2, a, lda, b, ldb, init, c_ref, ldc);
    simd_table()->qgemm(M, N, k2, a, lda, b, ldb, init, c_simd, ldc);
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            int64_t s = init[m];
            for (int k = 0; k < K; k++) {
                int av = a_signed ? (int8_t)a8[m * K + k] : a8[m * K + k];
                int bv = b_signed ? (int8_t)b8[k * N + n] : b8[k * N + n];
                int az = a_signed ? (int8_t)azp[m % 64] : azp[m % 64];
                int bz = b_signed ? (int8_t)bzp_cols[n] : bzp_cols[n];
                s += (int64_t)(av - az) * (bv - bz);
            }
            assert_int_equal(c_ref[(size_t)m * ldc + n], s);
            assert_int_equal(c_simd[(size_t)m * ldc + n], s);
        }
        for (size_t n = (size_t)N; n < ldc; n++) {
            assert_int_equal(c_ref[(size_t)m * ldc + n], SENTINEL);
            assert_int_equal(c_simd[(size_t)m * ldc + n], SENTINEL);
        }
    }
    free(a8);
    free(b8);
    free(a);
    free(b);
    free(c_ref);
    free(c_simd);
    free(init);
}

static void test_qgemm_random_odd_sizes(void **st)
{
    (void)st;
    static const int sizes[][3] = { { 1, 1, 1 },  { 3, 5, 7 },   { 4, 16, 8 },  { 5, 17, 9 },
                                    { 7, 33, 15 }, { 16, 224, 144 }, { 13, 31, 63 },
                                    { 1, 64, 6 },  { 32, 15, 1 } };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int t = 0; t < 4; t++)
            run_gemm_case(sizes[i][0], sizes[i][1], sizes[i][2], t & 1, t & 2, 0);
}

/* 255 x -128 and 255 x 127 pairs: the products that break a saturating
 * vpmaddubsw (2 * 255 * 127 = 64770 > 32767), with K large enough that the
 * int32 sum is far outside int16. */
static void test_qgemm_extremes(void **st)
{
    (void)st;
    for (int mode = 1; mode <= 2; mode++) {
        run_gemm_case(5, 19, 1023, false, true, mode);  /* u8 x s8 */
        run_gemm_case(5, 19, 1023, true, true, mode);   /* s8 x s8: -128 x -128 */
        run_gemm_case(5, 19, 1023, false, false, mode); /* u8 x u8 */
    }
}

static void test_quantize_matches_and_rounds_half_even(void **st)
{
    (void)st;
    enum { N = 1003 };
    float x[N];
    uint8_t q_ref[N + 8], q_simd[N + 8];
    const float scale = 0.5f;
    for (int i = 0; i < N; i++) {
        if (i < 400) /* exact ties: k.5 * scale */
            x[i] = ((float)(i - 200) + 0.5f) * scale;
        else
            x[i] = ((float)(int32_t)rnd() / 2147483648.0f) * 200.0f;
    }
    x[N - 1] = NAN;
    x[N - 2] = INFINITY;
    x[N - 3] = -INFINITY;
    for (int sgn = 0; sgn < 2; sgn++)
        for (int zp = -3; zp <= 130; zp += 133) {
            int z = sgn ? (zp < 0 ? -3 : 5) : (zp < 0 ? 0 : 130);
            memset(q_ref, 0xA5, sizeof q_ref);
            memset(q_simd, 0xA5, sizeof q_simd);
            tq_quantize_f32_c(x, N, scale, z, sgn, q_ref);
            simd_table()->quantize(x, N, scale, z, sgn, q_simd);
            assert_memory_equal(q_ref, q_simd, sizeof q_ref);
            for (int i = 0; i < N - 3; i++) {
                double r = nearbyint((double)x[i] / scale) + z; /* ties to even */
                double lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;
                r = r < lo ? lo : r > hi ? hi : r;
                int got = sgn ? (int8_t)q_ref[i] : q_ref[i];
                assert_int_equal(got, (int)r);
            }
            assert_int_equal(q_ref[N], 0xA5);
        }
}

static void test_minmax_and_dequant(void **st)
{
    (void)st;
    enum { N = 77, M = 3 };
    float x[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)(int32_t)rnd() / 1e6f;
    x[10] = NAN;
    float a, b, c, d;
    tq_minmax_f32_c(x, N, &a, &b);
    simd_table()->minmax(x, N, &c, &d);
    assert_true(a == c && b == d);
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < N; i++)
        if (!isnan(x[i])) {
            lo = fminf(lo, x[i]);
            hi = fmaxf(hi, x[i]);
        }
    assert_true(a == lo && b == hi);

    int32_t c1[M * (N + 2)], c2[M * (N + 2)];
    for (int i = 0; i < M * (N + 2); i++)
        c1[i] = c2[i] = (int32_t)((int64_t)rnd() - (1 << 30)); /* rnd() may exceed INT32_MAX */
    float scale[M] = { 0.001f, 3.5e-5f, 1.0f }, bias[M] = { 0.25f, -7.0f, 1e-3f };
    int32_t orig[M * (N + 2)];
    memcpy(orig, c1, sizeof orig);
    tq_dequant_rows_c(c1, M, N, N + 2, scale, bias);
    simd_table()->dequant_rows(c2, M, N, N + 2, scale, bias);
    assert_memory_equal(c1, c2, sizeof c1);
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            volatile float p = (float)orig[m * (N + 2) + n] * scale[m];
            volatile float y = p + bias[m];
            float got;
            memcpy(&got, &c1[m * (N + 2) + n], sizeof got);
            assert_true(got == y);
        }
        assert_int_equal(c1[m * (N + 2) + N], orig[m * (N + 2) + N]);
    }
}

/* The Relu and Clip ops as activation.c writes them */
static float unfused_act(const tq_qact *act, float y)
{
    if (act->kind == TQ_QACT_RELU)
        return y > 0.0f ? y : 0.0f;
    if (act->kind == TQ_QACT_CLIP) {
        y = y < act->lo ? act->lo : y;
        return y > act->hi ? act->hi : y;
    }
    return y;
}

/* The fused epilogue against the unfused op formulas (Mul, Add, Add, Relu /
 * Clip as activation.c writes them), NaN and -0 residuals included, and the
 * SIMD version against the C one bit for bit. The column past N keeps its
 * sentinel. */
static void test_epilogue_rows(void **st)
{
    (void)st;
    enum { N = 45, M = 4, LD = N + 3 };
    float scale[M] = { 0.002f, 3.5e-5f, 1.0f, 0.07f }, bias[M] = { 0.25f, -7.0f, 0.0f, -0.01f };
    float res[M * LD];
    for (int i = 0; i < M * LD; i++)
        res[i] = (float)(int32_t)(rnd() % 2001u) / 100.0f - 10.0f;
    res[3] = NAN;
    res[5] = -0.0f;
    res[LD + 7] = INFINITY;
    for (int kind = 0; kind <= 2; kind++)
        for (int with = 0; with < 4; with++) {
            const float *b = with & 1 ? bias : NULL, *r = with & 2 ? res : NULL;
            tq_qact act = { kind, -1.5f, 6.0f };
            int32_t c1[M * LD], c2[M * LD], orig[M * LD];
            for (int i = 0; i < M * LD; i++)
                orig[i] = c1[i] = c2[i] = (int32_t)(rnd() % 20001u) - 10000;
            orig[0] = c1[0] = c2[0] = 0;
            for (int m = 0; m < M; m++)
                orig[m * LD + N] = c1[m * LD + N] = c2[m * LD + N] = SENTINEL;
            tq_epilogue_rows_c(c1, M, N, LD, scale, b, r, LD, &act);
            simd_table()->epilogue_rows(c2, M, N, LD, scale, b, r, LD, &act);
            assert_memory_equal(c1, c2, sizeof c1);
            /* the min / max variants: same values, and the running range
             * (starting empty, or from a range the rows may not reach) */
            int32_t c3[M * LD], c4[M * LD];
            memcpy(c3, orig, sizeof c3);
            memcpy(c4, orig, sizeof c4);
            float mn0 = with == 3 ? -0.5f : INFINITY, mx0 = with == 3 ? 0.5f : -INFINITY;
            float mn3 = mn0, mx3 = mx0, mn4 = mn0, mx4 = mx0;
            tq_epilogue_rows_mm_c(c3, M, N, LD, scale, b, r, LD, &act, &mn3, &mx3);
            simd_table()->epilogue_rows_mm(c4, M, N, LD, scale, b, r, LD, &act, &mn4, &mx4);
            assert_memory_equal(c1, c3, sizeof c1);
            assert_memory_equal(c1, c4, sizeof c1);
            float wmn = mn0, wmx = mx0; /* over the unfused values below */
            for (int m = 0; m < M; m++) {
                for (int n = 0; n < N; n++) {
                    volatile float y = (float)orig[m * LD + n] * scale[m];
                    if (b)
                        y = y + b[m];
                    if (r)
                        y = r[m * LD + n] + y;
                    y = unfused_act(&act, y);
                    float got, want = y;
                    memcpy(&got, &c1[m * LD + n], sizeof got);
                    assert_memory_equal(&got, &want, sizeof got);
                    if (!isnan(want)) {
                        wmn = fminf(wmn, want);
                        wmx = fmaxf(wmx, want);
                    }
                }
                assert_int_equal(c1[m * LD + N], SENTINEL);
            }
            /* == (not bytes): which zero a min / max keeps depends on order */
            assert_true(mn3 == wmn && mx3 == wmx && mn4 == wmn && mx4 == wmx);
        }
}

/* The per-column epilogue (a MatMul's output channels) against the unfused
 * Mul, Add, Relu / Clip formulas, the SIMD version against the C one bit
 * for bit, with and without the min / max; the columns past N keep their
 * sentinel. */
static void test_epilogue_cols(void **st)
{
    (void)st;
    enum { N = 37, M = 5, LD = N + 3 };
    float scale[N], bias[N];
    for (int n = 0; n < N; n++) {
        scale[n] = (float)(rnd() % 1000u + 1u) * 1e-5f;
        bias[n] = (float)(int32_t)(rnd() % 2001u) / 100.0f - 10.0f;
    }
    for (int kind = 0; kind <= 2; kind++)
        for (int with = 0; with < 2; with++) {
            const float *b = with ? bias : NULL;
            tq_qact act = { kind, -1.5f, 6.0f };
            int32_t c1[M * LD], c2[M * LD], orig[M * LD];
            for (int i = 0; i < M * LD; i++)
                orig[i] = c1[i] = c2[i] = (int32_t)(rnd() % 2000001u) - 1000000;
            for (int m = 0; m < M; m++)
                for (int n = N; n < LD; n++)
                    orig[m * LD + n] = c1[m * LD + n] = c2[m * LD + n] = SENTINEL;
            tq_epilogue_cols_c(c1, M, N, LD, scale, b, &act, NULL, NULL);
            simd_table()->epilogue_cols(c2, M, N, LD, scale, b, &act, NULL, NULL);
            assert_memory_equal(c1, c2, sizeof c1);
            int32_t c3[M * LD], c4[M * LD];
            memcpy(c3, orig, sizeof c3);
            memcpy(c4, orig, sizeof c4);
            float mn3 = INFINITY, mx3 = -INFINITY, mn4 = INFINITY, mx4 = -INFINITY;
            tq_epilogue_cols_c(c3, M, N, LD, scale, b, &act, &mn3, &mx3);
            simd_table()->epilogue_cols(c4, M, N, LD, scale, b, &act, &mn4, &mx4);
            assert_memory_equal(c1, c3, sizeof c1);
            assert_memory_equal(c1, c4, sizeof c1);
            float wmn = INFINITY, wmx = -INFINITY;
            for (int m = 0; m < M; m++) {
                for (int n = 0; n < N; n++) {
                    volatile float y = (float)orig[m * LD + n] * scale[n];
                    if (b)
                        y = y + b[n];
                    y = unfused_act(&act, y);
                    float got, want = y;
                    memcpy(&got, &c1[m * LD + n], sizeof got);
                    assert_memory_equal(&got, &want, sizeof got);
                    wmn = fminf(wmn, want);
                    wmx = fmaxf(wmx, want);
                }
                for (int n = N; n < LD; n++)
                    assert_int_equal(c1[m * LD + n], SENTINEL);
            }
            assert_true(mn3 == wmn && mx3 == wmx && mn4 == wmn && mx4 == wmx);
        }
}

/* Per-column requantisation (QGemm): the SIMD version equals the C one
 * byte for byte, and both equal ONNX Runtime's float formula
 * sat(rint((float)(acc + bias) * mult) + zp), ties to even, saturation at
 * both ends included; the byte after each output keeps its sentinel. */
static void test_requant_cols(void **st)
{
    (void)st;
    enum { M = 3, NMAX = 41 };
    for (int trial = 0; trial < 60; trial++) {
        int N = 1 + trial % NMAX, is_signed = trial & 1, zp = is_signed ? -7 : 131;
        int32_t acc[M * NMAX], bias[NMAX];
        float mult[NMAX];
        for (int n = 0; n < N; n++) {
            bias[n] = (int32_t)(rnd() % 20001u) - 10000;
            /* 1/2^k multipliers make exact ties (x.5) for odd accumulators */
            mult[n] = trial % 3 == 0 ? 1.0f / (float)(1 << (n % 4 + 1))
                                     : (float)(rnd() % 100000u + 1u) * 1e-6f;
        }
        for (int i = 0; i < M * N; i++)
            acc[i] = trial % 5 == 0 ? (int32_t)(rnd() % 2000001u) - 1000000
                                    : (int32_t)(rnd() % 20001u) - 10000;
        uint8_t a[M * NMAX + 1], b[M * NMAX + 1];
        memset(a, 0xA5, sizeof a);
        memset(b, 0xA5, sizeof b);
        const int32_t *bp = trial % 4 ? bias : NULL;
        tq_requant_cols_c(acc, M, N, bp, mult, zp, is_signed, a);
        simd_table()->requant_cols(acc, M, N, bp, mult, zp, is_signed, b);
        assert_memory_equal(a, b, sizeof a);
        assert_int_equal(a[M * N], 0xA5);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                volatile float x = (float)(acc[m * N + n] + (bp ? bp[n] : 0)) * mult[n];
                double r = nearbyint((double)x) + zp;
                double lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
                r = r < lo ? lo : r > hi ? hi : r;
                int got = is_signed ? (int8_t)a[m * N + n] : a[m * N + n];
                assert_int_equal(got, (int)r);
            }
    }
}

/* The AVX2 quantiser multiplies by 1/scale and falls back to the division
 * near half-integers: hammer exactly there (x = (k + 1/2) * scale moved by a
 * few ulps either way) and on random values; it must equal the C division
 * path byte for byte. */
static void test_quantize_near_half(void **st)
{
    (void)st;
    enum { N = 4096 };
    static float x[N];
    static uint8_t a[N], b[N];
    for (int trial = 0; trial < 200; trial++) {
        float scale = (float)(rnd() % 100000u + 1u) * 1e-6f * (float)(1 + trial % 7);
        int zp = trial % 3 == 0 ? 0 : (int)(rnd() % 256u) - (trial & 1 ? 128 : 0);
        int is_signed = trial & 1;
        if (!is_signed && zp < 0)
            zp = -zp;
        for (int i = 0; i < N; i++) {
            if (i % 2) {
                x[i] = ((float)(int32_t)(rnd() % 20001u) - 10000.0f) * scale / 37.0f;
                continue;
            }
            /* up to 700 steps: past 512 the margin argument is saturation */
            float k = (float)((int32_t)(rnd() % 1401u) - 700);
            float v = (k + 0.5f) * scale;
            int moves = (int)(rnd() % 9u) - 4;
            for (; moves > 0; moves--)
                v = nextafterf(v, INFINITY);
            for (; moves < 0; moves++)
                v = nextafterf(v, -INFINITY);
            x[i] = v;
        }
        tq_quantize_f32_c(x, N, scale, zp, is_signed, a);
        simd_table()->quantize(x, N, scale, zp, is_signed, b);
        assert_memory_equal(a, b, N);
        if (!is_signed) {
            /* quantize_s16 (the dynamic MatMul's rows): the same bytes
             * minus the zero point, C and SIMD; odd lengths for the tail */
            static int16_t s1[N], s2[N];
            int n = N - trial % 8;
            tq_quantize_s16_c(x, (size_t)n, scale, zp, s1);
            simd_table()->quantize_s16(x, (size_t)n, scale, zp, s2);
            for (int i = 0; i < n; i++) {
                assert_int_equal(s1[i], (int)a[i] - zp);
                assert_int_equal(s2[i], (int)a[i] - zp);
            }
        }
    }
    /* scales whose reciprocal is not a normal float take the division */
    float odd_scales[3] = { 1e-40f, 3e38f, 1e-38f };
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 64; i++)
            x[i] = i % 4 == 0 ? 0.0f : (float)(i - 32) * odd_scales[k];
        tq_quantize_f32_c(x, 64, odd_scales[k], 3, 1, a);
        simd_table()->quantize(x, 64, odd_scales[k], 3, 1, b);
        assert_memory_equal(a, b, 64);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qgemm_random_odd_sizes),
        cmocka_unit_test(test_qgemm_extremes),
        cmocka_unit_test(test_quantize_matches_and_rounds_half_even),
        cmocka_unit_test(test_minmax_and_dequant),
        cmocka_unit_test(test_epilogue_rows),
        cmocka_unit_test(test_quantize_near_half),
        cmocka_unit_test(test_epilogue_cols),
        cmocka_unit_test(test_requant_cols),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
