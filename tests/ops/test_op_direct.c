/* Direct op checks the case files cannot express: inputs that are not known
 * at prepare time, error messages, and the broadcast plan's collapsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "op_harness.h"
#include "runtime/ops/ops_common.h"

static void test_reshape_needs_const_shape(void **state)
{
    (void)state;
    op_run r;
    float x[6] = { 0 };
    int64_t xd[] = { 2, 3 }, sd[] = { 1 }, shape[] = { 6 };
    run_init(&r, "Reshape", 14, 1);
    run_input(&r, "x", TQ_FLOAT, 2, xd, x, false);
    run_input(&r, "dyn_shape", TQ_INT64, 1, sd, shape, false);
    assert_int_equal(run_exec(&r), TQ_EUNSUPPORTED);
    assert_non_null(strstr(r.err.msg, "node 'n0' (Reshape)"));
    assert_non_null(strstr(r.err.msg, "dyn_shape"));
    run_free(&r);
}

static void test_broadcast_mismatch_names_inputs(void **state)
{
    (void)state;
    op_run r;
    float a[6] = { 0 }, b[4] = { 0 };
    int64_t ad[] = { 2, 3 }, bd[] = { 4 };
    run_init(&r, "Add", 14, 1);
    run_input(&r, "lhs", TQ_FLOAT, 2, ad, a, false);
    run_input(&r, "rhs", TQ_FLOAT, 1, bd, b, false);
    assert_int_equal(run_exec(&r), TQ_EFORMAT);
    assert_non_null(strstr(r.err.msg, "'lhs'"));
    assert_non_null(strstr(r.err.msg, "'rhs'"));
    run_free(&r);
}

static void test_add_type_mismatch(void **state)
{
    (void)state;
    op_run r;
    float a[2] = { 0 };
    int64_t b[2] = { 0 }, d[] = { 2 };
    run_init(&r, "Mul", 14, 1);
    run_input(&r, "a", TQ_FLOAT, 1, d, a, false);
    run_input(&r, "b", TQ_INT64, 1, d, b, false);
    assert_int_equal(run_exec(&r), TQ_EFORMAT);
    assert_non_null(strstr(r.err.msg, "differ in type"));
    run_free(&r);
}

static void test_bias_plan_is_three_levels(void **state)
{
    (void)state;
    /* [N,C,H,W] + [C,1,1]: collapses to [N, C, H*W] with a scalar inner
     * broadcast of the bias, the loop shape the hot path relies on. */
    tq_value a = { .rank = 4, .dims = { 2, 8, 5, 6 } };
    tq_value b = { .rank = 3, .dims = { 8, 1, 1 } };
    tq_value o = { .rank = 4, .dims = { 2, 8, 5, 6 } };
    tq_bcast p;
    tq_bcast_plan(&a, &b, &o, &p);
    assert_int_equal(p.rank, 3);
    assert_int_equal(p.dims[2], 30);
    assert_int_equal(p.sa[2], 1);
    assert_int_equal(p.sb[2], 0);
    assert_int_equal(p.sb[1], 1);
    /* Same shapes collapse to one contiguous loop. */
    tq_bcast_plan(&a, &a, &o, &p);
    assert_int_equal(p.rank, 1);
    assert_int_equal(p.dims[0], 2 * 8 * 5 * 6);
}

static void test_add_bias_values(void **state)
{
    (void)state;
    /* Hand-derived: x[n,c,i] = 100n + 10c + i, bias[c] = -c. */
    float x[2 * 3 * 4], bias[3] = { 0, -1, -2 };
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 4; i++)
                x[(n * 3 + ch) * 4 + i] = (float)(100 * n + 10 * ch + i);
    int64_t xd[] = { 2, 3, 2, 2 }, bd[] = { 3, 1, 1 };
    op_run r;
    run_init(&r, "Add", 14, 1);
    run_input(&r, "x", TQ_FLOAT, 4, xd, x, false);
    run_input(&r, "bias", TQ_FLOAT, 3, bd, bias, true);
    assert_int_equal(run_exec(&r), TQ_OK);
    const float *y = r.out[0]->data;
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 4; i++)
                assert_true(y[(n * 3 + ch) * 4 + i] == (float)(100 * n + 9 * ch + i));
    run_free(&r);
}

static void test_clip_bounds_need_not_be_const(void **state)
{
    (void)state;
    float x[4] = { -2, -0.5f, 0.5f, 2 }, lo = -1, hi = 1;
    int64_t d[] = { 4 };
    op_run r;
    run_init(&r, "Clip", 13, 1);
    run_input(&r, "x", TQ_FLOAT, 1, d, x, false);
    run_input(&r, "lo", TQ_FLOAT, 0, d, &lo, false);
    run_input(&r, "hi", TQ_FLOAT, 0, d, &hi, false);
    assert_int_equal(run_exec(&r), TQ_OK);
    const float *y = r.out[0]->data;
    assert_true(y[0] == -1 && y[1] == -0.5f && y[2] == 0.5f && y[3] == 1);
    run_free(&r);
}

static void test_resize_cubic_named_and_unknown_mode(void **state)
{
    (void)state;
    float x[4] = { 0 }, scales[4] = { 1, 1, 2, 2 };
    int64_t xd[] = { 1, 1, 2, 2 }, sd[] = { 4 };
    op_run r;
    run_init(&r, "Resize", 13, 1);
    tq_attr *a = tq_node_add_attr(r.node, "mode", TQ_ATTR_STRING);
    a->s = strdup("bicubic_fancy");
    run_input(&r, "x", TQ_FLOAT, 4, xd, x, false);
    run_input(&r, "", TQ_UNDEFINED, 0, NULL, NULL, false);
    run_input(&r, "scales", TQ_FLOAT, 1, sd, scales, true);
    assert_int_equal(run_exec(&r), TQ_EUNSUPPORTED);
    assert_non_null(strstr(r.err.msg, "bicubic_fancy"));
    run_free(&r);
}

static void test_unknown_op(void **state)
{
    (void)state;
    assert_null(tq_op_find("", "NoSuchOp"));
    assert_non_null(tq_op_find("ai.onnx", "Softmax"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape_needs_const_shape),
        cmocka_unit_test(test_broadcast_mismatch_names_inputs),
        cmocka_unit_test(test_add_type_mismatch),
        cmocka_unit_test(test_bias_plan_is_three_levels),
        cmocka_unit_test(test_add_bias_values),
        cmocka_unit_test(test_clip_bounds_need_not_be_const),
        cmocka_unit_test(test_resize_cubic_named_and_unknown_mode),
        cmocka_unit_test(test_unknown_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
