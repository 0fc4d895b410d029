/* fp32 fusion (graph/fuse_fp32.c) on the committed CNN fixture: every
 * BatchNormalization, Add and Relu of the Conv blocks is folded into the 9
 * convolutions, the caller's model is untouched, and fused outputs agree with
 * the op-by-op graph (itself checked against ONNX Runtime by the parity
 * tests) to the parity tolerance: normwise relative 1e-5. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph/ir.h"
#include "runtime/session_internal.h"

static int count_op(const tq_model *m, const char *op)
{
    int n = 0;
    for (int i = 0; i < m->graph.n_nodes; i++)
        n += strcmp(m->graph.nodes[i].op_type, op) == 0;
    return n;
}

static void test_cnn_fused(void **state)
{
    (void)state;
    const char *root = getenv("TQ_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/cnn.onnx", root ? root : ".");
    tq_model *m = NULL;
    tq_error err = {0};
    if (tq_model_load(&m, path, &err) != TQ_OK)
        fail_msg("%s", err.msg);
    tq_session *fused = NULL, *plain = NULL;
    assert_int_equal(tq_session_create_ex(&fused, m, true, &err), TQ_OK);
    assert_int_equal(tq_session_create_ex(&plain, m, false, &err), TQ_OK);
    const tq_model *fm = fused->model;
    assert_ptr_not_equal(fm, m);
    assert_int_equal(count_op(fm, "BatchNormalization"), 0);
    assert_int_equal(count_op(fm, "Add"), 0);
    assert_int_equal(count_op(fm, "Relu"), 0);
    assert_int_equal(count_op(fm, "FusedConv") + count_op(fm, "Conv"), 9);
    assert_int_equal(count_op(m, "BatchNormalization"), 9); /* caller's model untouched */

    tq_tensor_view in;
    assert_int_equal(tq_model_input(m, 0, &in), TQ_OK);
    in.dims[0] = 3;
    int64_t n = tq_shape_numel(in.dims, in.rank);
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(s >> 40) / 16777216.0f;
    }
    in.data = x;
    tq_tensor_view a, b;
    assert_int_equal(tq_session_run(fused, &in, 1, &a, 1, &err), TQ_OK);
    assert_int_equal(tq_session_run(plain, &in, 1, &b, 1, &err), TQ_OK);
    int64_t on = tq_shape_numel(a.dims, a.rank);
    assert_int_equal(on, tq_shape_numel(b.dims, b.rank));
    double maxdiff = 0, maxref = 0;
    for (int64_t i = 0; i < on; i++) {
        double d = fabs((double)((const float *)a.data)[i] - ((const float *)b.data)[i]);
        maxdiff = d > maxdiff ? d : maxdiff;
        double r = fabs(((const float *)b.data)[i]);
        maxref = r > maxref ? r : maxref;
    }
    assert_true(maxref > 0);
    if (maxdiff > 1e-5 * maxref)
        fail_msg("fused vs unfused: max diff %g > 1e-5 * %g", maxdiff, maxref);
    free(x);
    tq_session_free(&fused);
    tq_session_free(&plain);
    tq_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cnn_fused) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
