/* Scale / zero-point math against values derived by hand from ONNX
 * Runtime's formulas (ORT-PARITY.md): ranges, half-to-even rounding,
 * the FLT_MIN guard, all-zero tensors, symmetric weights, int32 bias. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quant/qparams.h"

static void test_ranges(void **state)
{
    int lo, hi;
    assert_int_equal(tq_qrange(TQ_UINT8, false, false, &lo, &hi), 0);
    assert_int_equal(lo, 0), assert_int_equal(hi, 255);
    tq_qrange(TQ_UINT8, true, false, &lo, &hi);
    assert_int_equal(lo, 0), assert_int_equal(hi, 254);
    tq_qrange(TQ_UINT8, false, true, &lo, &hi);
    assert_int_equal(lo, 0), assert_int_equal(hi, 127);
    tq_qrange(TQ_INT8, false, false, &lo, &hi);
    assert_int_equal(lo, -128), assert_int_equal(hi, 127);
    tq_qrange(TQ_INT8, true, false, &lo, &hi);
    assert_int_equal(lo, -127), assert_int_equal(hi, 127);
    tq_qrange(TQ_INT8, false, true, &lo, &hi);
    assert_int_equal(lo, -64), assert_int_equal(hi, 64);
    assert_int_not_equal(tq_qrange(TQ_INT32, false, false, &lo, &hi), 0);
}

static void test_asymmetric(void **state)
{
    /* [-1, 3] on uint8: scale = 4/255 (double, then float); zp = rint(0 + 1/scale)
     * = rint(63.75) = 64. */
    tq_qparams p = tq_compute_qparams(-1.0f, 3.0f, 0, 255, false);
    assert_true(p.scale == (float)(4.0 / 255.0));
    assert_int_equal(p.zero_point, 64);
    /* Range not containing 0 is widened: [2, 5] -> [0, 5]: zp = 0 (uint8). */
    p = tq_compute_qparams(2.0f, 5.0f, 0, 255, false);
    assert_true(p.scale == (float)(5.0 / 255.0));
    assert_int_equal(p.zero_point, 0);
    /* int8, [0, 5]: zp = -128 (Relu outputs use the whole range). */
    p = tq_compute_qparams(0.0f, 5.0f, -128, 127, false);
    assert_int_equal(p.zero_point, -128);
    /* Negative-only [-5, -1] -> [-5, 0], uint8: zp = rint(5 / (5/255)) = 255. */
    p = tq_compute_qparams(-5.0f, -1.0f, 0, 255, false);
    assert_int_equal(p.zero_point, 255);
}

static void test_half_to_even(void **state)
{
    /* rmin = -0.5 * scale exactly: zp = rint(0.5) = 0 (not 1).
     * Range [-0.5, 254.5] on uint8: scale = 255/255 = 1, zp = rint(0.5) = 0. */
    tq_qparams p = tq_compute_qparams(-0.5f, 254.5f, 0, 255, false);
    assert_true(p.scale == 1.0f);
    assert_int_equal(p.zero_point, 0);
    /* [-1.5, 253.5]: zp = rint(1.5) = 2. */
    p = tq_compute_qparams(-1.5f, 253.5f, 0, 255, false);
    assert_int_equal(p.zero_point, 2);
    /* Values: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2 (scale 1, zp 0). */
    assert_int_equal(tq_quantize_value(0.5f, 1.0f, 0, -128, 127), 0);
    assert_int_equal(tq_quantize_value(1.5f, 1.0f, 0, -128, 127), 2);
    assert_int_equal(tq_quantize_value(2.5f, 1.0f, 0, -128, 127), 2);
    assert_int_equal(tq_quantize_value(-0.5f, 1.0f, 0, -128, 127), 0);
    assert_int_equal(tq_quantize_value(-1.5f, 1.0f, 0, -128, 127), -2);
    /* zero point added after rounding; clamp to the full type range. */
    assert_int_equal(tq_quantize_value(2.5f, 1.0f, 10, 0, 255), 12);
    assert_int_equal(tq_quantize_value(1000.0f, 1.0f, 0, -128, 127), 127);
    assert_int_equal(tq_quantize_value(-1000.0f, 1.0f, 3, 0, 255), 0);
    /* symmetric int8 weights clamp to the FULL range: -128 is reachable. */
    assert_int_equal(tq_quantize_value(-128.4f, 1.0f, 0, -128, 127), -128);
}

static void test_flt_min_guard(void **state)
{
    /* All-zero tensor: scale 0 -> 1, zp 0 (both asymmetric and symmetric). */
    tq_qparams p = tq_compute_qparams(0.0f, 0.0f, 0, 255, false);
    assert_true(p.scale == 1.0f);
    assert_int_equal(p.zero_point, 0);
    p = tq_compute_qparams(0.0f, 0.0f, -127, 127, true);
    assert_true(p.scale == 1.0f);
    assert_int_equal(p.zero_point, 0);
    /* A range so small the scale underflows below FLT_MIN. */
    p = tq_compute_qparams(0.0f, FLT_MIN * 10.0f, 0, 255, false);
    assert_true(p.scale == 1.0f);
    assert_int_equal(p.zero_point, 0);
    /* Just above: kept. FLT_MIN * 255 / 255 = FLT_MIN. */
    p = tq_compute_qparams(0.0f, FLT_MIN * 255.0f, 0, 255, false);
    assert_true(p.scale == FLT_MIN);
}

static void test_symmetric(void **state)
{
    /* [-0.3, 1.27] symmetric int8: absmax 1.27, scale = 2.54/254 = 0.01, zp 0. */
    tq_qparams p = tq_compute_qparams(-0.3f, 1.27f, -127, 127, true);
    assert_true(p.scale == (float)((2.0 * (double)1.27f) / 254.0));
    assert_int_equal(p.zero_point, 0);
    /* symmetric uint8 [0,254]: zp = rint(127) = 127. */
    p = tq_compute_qparams(-1.0f, 1.0f, 0, 254, true);
    assert_int_equal(p.zero_point, 127);
}

static void test_weights_per_channel(void **state)
{
    /* W [2, 3] with per-row (axis 0) and per-column (axis 1) scales. */
    /* absmax 127 gives scale exactly 1, so the .5 cases are exact ties. */
    float w[6] = {63.5f, -127.0f, 62.5f, 0.0f, 0.0f, 0.0f};
    tq_tensor t = {.name = "w", .dtype = TQ_FLOAT, .rank = 2, .dims = {2, 3}, .data = w,
                   .nbytes = sizeof w};
    int8_t q[6];
    float s[3];
    tq_error err = {0};
    assert_int_equal(tq_quantize_weight_s8(&t, 0, false, q, s, &err), 0);
    assert_true(s[0] == 1.0f);                 /* 2 * 127 / 254 */
    assert_true(s[1] == 1.0f);                 /* all-zero row: FLT_MIN guard */
    assert_int_equal(q[0], 64);                /* 63.5 -> 64 (even) */
    assert_int_equal(q[1], -127);
    assert_int_equal(q[2], 62);                /* 62.5 -> 62 (even) */
    assert_int_equal(q[3], 0);
    assert_int_equal(tq_quantize_weight_s8(&t, 1, false, q, s, &err), 0);
    assert_true(s[0] == 0.5f);                 /* column absmax 63.5 */
    assert_true(s[1] == 1.0f);
    assert_true(s[2] == (float)(125.0 / 254.0));
    assert_int_equal(q[0], 127);
    assert_int_equal(q[1], -127);
    assert_int_equal(q[2], 127);
    assert_int_equal(tq_quantize_weight_s8(&t, -1, false, q, s, &err), 0);
    assert_true(s[0] == 1.0f);
    assert_int_equal(q[0], 64);
    /* reduce_range: [-64, 64], scale 2 * absmax / 128 (ORT's reduce_range);
     * absmax 127 -> scale 127/64, so 63.5 -> 32.0 and 62.5 -> 31.496 -> 31 */
    assert_int_equal(tq_quantize_weight_s8(&t, 0, true, q, s, &err), 0);
    assert_true(s[0] == (float)(254.0 / 128.0));
    assert_true(s[1] == 1.0f);
    assert_int_equal(q[0], 32);
    assert_int_equal(q[1], -64);
    assert_int_equal(q[2], 31);
    /* absmax 64 -> scale 1; ties round half to even: 0.5 -> 0, -1.5 -> -2 */
    float w2[3] = {64.0f, 0.5f, -1.5f};
    tq_tensor t2 = {.name = "w2", .dtype = TQ_FLOAT, .rank = 1, .dims = {3}, .data = w2,
                    .nbytes = sizeof w2};
    assert_int_equal(tq_quantize_weight_s8(&t2, -1, true, q, s, &err), 0);
    assert_true(s[0] == 1.0f);
    assert_int_equal(q[0], 64);
    assert_int_equal(q[1], 0);
    assert_int_equal(q[2], -2);
    /* NaN weights are refused with the tensor's name. */
    w[4] = NAN;
    assert_int_not_equal(tq_quantize_weight_s8(&t, -1, false, q, s, &err), 0);
    assert_non_null(strstr(err.msg, "'w'"));
}

static void test_bias(void **state)
{
    /* bias 1.0 with scale 0.5*0.01 = 0.005: q = 200; half-to-even at 2.5 units. */
    float bs = 0.5f * 0.01f;
    assert_int_equal(tq_quantize_bias_value(1.0f, bs), (int32_t)rintf(1.0f / bs));
    assert_int_equal(tq_quantize_bias_value(2.5f, 1.0f), 2);
    assert_int_equal(tq_quantize_bias_value(-3.5f, 1.0f), -4);
    assert_int_equal(tq_quantize_bias_value(1e30f, 1e-6f), INT32_MAX);
    assert_int_equal(tq_quantize_bias_value(-1e30f, 1e-6f), INT32_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),          cmocka_unit_test(test_asymmetric),
        cmocka_unit_test(test_half_to_even),    cmocka_unit_test(test_flt_min_guard),
        cmocka_unit_test(test_symmetric),       cmocka_unit_test(test_weights_per_channel),
        cmocka_unit_test(test_bias),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
