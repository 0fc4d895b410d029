/* IR basics: shape arithmetic, float16 conversion, graph edits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "graph/ir.h"

static void test_numel_overflow(void **state)
{
    (void)state;
    int64_t ok[] = {2, 3, 4};
    assert_int_equal(tq_shape_numel(ok, 3), 24);
    int64_t big[] = {INT64_MAX / 2, 3};
    assert_int_equal(tq_shape_numel(big, 2), -1);
    int64_t neg[] = {2, -1};
    assert_int_equal(tq_shape_numel(neg, 2), -1);
}

static void test_half_roundtrip(void **state)
{
    (void)state;
    /* Every finite half converts to float and back to the same bits. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00)
            continue;
        float f = tq_half_to_float((uint16_t)h);
        assert_int_equal(tq_float_to_half(f), h);
    }
    assert_true(tq_half_to_float(0x3c00) == 1.0f);
    assert_true(tq_half_to_float(0x0001) == ldexpf(1.0f, -24));
    /* ties to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10 */
    assert_int_equal(tq_float_to_half(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    assert_int_equal(tq_float_to_half(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    assert_int_equal(tq_float_to_half(70000.0f), 0x7c00);
}

static void test_graph_edit(void **state)
{
    (void)state;
    tq_model *m = tq_model_new();
    assert_non_null(m);
    tq_node *n = tq_graph_add_node(&m->graph, "Relu", "r0");
    assert_non_null(n);
    assert_int_equal(tq_node_add_input(n, "x"), 0);
    assert_int_equal(tq_node_add_output(n, "y"), 0);
    tq_attr *a = tq_node_add_attr(n, "alpha", TQ_ATTR_FLOAT);
    a->f = 0.5f;
    assert_true(tq_node_attr_float(n, "alpha", 0) == 0.5f);
    assert_int_equal(tq_node_attr_int(n, "missing", 7), 7);
    int64_t dims[] = {2};
    float w[] = {1, 2};
    assert_non_null(tq_graph_add_initializer(&m->graph, "w", TQ_FLOAT, 1, dims, w));
    const tq_tensor *t = tq_graph_find_initializer(&m->graph, "w");
    assert_non_null(t);
    assert_true(((float *)t->data)[1] == 2.0f);
    tq_model_free(&m);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numel_overflow),
        cmocka_unit_test(test_half_roundtrip),
        cmocka_unit_test(test_graph_edit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
