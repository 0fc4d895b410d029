/* Fused vs unfused execution of the ONNX-Runtime-made dynamic int8 seed
 * models: the session's fused copy must contain the tinyq fused ops and give
 * bit-identical outputs to the graph run op by op (fuse.h explains why no
 * tolerance is needed: same quantised bytes, exact integers, same two float
 * roundings). Inputs are uniform [0,1) like the SPEC synthetic set, plus a
 * wider signed range so zero points move away from 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "graph/ir.h"
#include "runtime/session_internal.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static float rnd01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / 16777216.0f;
}

static int count_fused(const tq_session *s)
{
    int n = 0;
    for (int i = 0; i < s->model->graph.n_nodes; i++)
        if (strcmp(s->model->graph.nodes[i].domain, "tinyq") == 0)
            n++;
    return n;
}

static void check_model(const char *name, int expect_fused)
{
    const char *dir = getenv("TQ_SEED_MODELS");
    if (!dir) {
        skip();
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.int8.onnx", dir, name);
    if (access(path, R_OK) != 0) { /* no seed models beside this checkout */
        skip();
        return;
    }
    tq_model *m = NULL;
    tq_error err = {0};
    assert_int_equal(tq_model_load(&m, path, &err), TQ_OK);
    tq_session *fused = NULL, *plain = NULL;
    assert_int_equal(tq_session_create_ex(&fused, m, true, &err), TQ_OK);
    assert_int_equal(tq_session_create_ex(&plain, m, false, &err), TQ_OK);
    assert_int_equal(count_fused(fused), expect_fused);
    assert_int_equal(count_fused(plain), 0);
    tq_tensor_view in;
    assert_int_equal(tq_model_input(m, 0, &in), TQ_OK);
    /* feature-vector models also at batch 3 and 7 (the MatMul epilogues'
     * row loops, the ranges handed from layer to layer) */
    int64_t dyn[TQ_MAX_RANK];
    for (int d = 0; d < in.rank; d++)
        dyn[d] = in.dims[d];
    float *x = malloc(sizeof(float) * 7 * 64);
    assert_non_null(x);
    for (int trial = 0; trial < 3; trial++) {
        for (int d = 0; d < in.rank; d++)
            if (dyn[d] < 0)
                in.dims[d] = in.rank == 2 ? 1 + 3 * trial : 1;
        int64_t n = tq_shape_numel(in.dims, in.rank);
        if (n > 7 * 64) {
            free(x);
            x = malloc(sizeof(float) * (size_t)n);
            assert_non_null(x);
        }
        for (int64_t i = 0; i < n; i++)
            x[i] = trial == 0 ? rnd01() : (rnd01() - 0.3f) * 8.0f * (float)trial;
        in.data = x;
        tq_tensor_view a, b;
        assert_int_equal(tq_session_run(fused, &in, 1, &a, 1, &err), TQ_OK);
        assert_int_equal(tq_session_run(plain, &in, 1, &b, 1, &err), TQ_OK);
        assert_int_equal(a.rank, b.rank);
        int64_t on = tq_shape_numel(a.dims, a.rank);
        assert_int_equal(on, tq_shape_numel(b.dims, b.rank));
        assert_memory_equal(a.data, b.data, sizeof(float) * (size_t)on);
    }
    free(x);
    tq_session_free(&fused);
    tq_session_free(&plain);
    tq_model_free(&m);
}

static void test_vmaf_tiny_v3(void **st) { (void)st; check_model("vmaf_tiny_v3", 3); }
static void test_vmaf_tiny_v4(void **st) { (void)st; check_model("vmaf_tiny_v4", 4); }
static void test_nr_metric_v1(void **st) { (void)st; check_model("nr_metric_v1", 12); }
static void test_learned_filter_v1(void **st) { (void)st; check_model("learned_filter_v1", 10); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmaf_tiny_v3),
        cmocka_unit_test(test_vmaf_tiny_v4),
        cmocka_unit_test(test_nr_metric_v1),
        cmocka_unit_test(test_learned_filter_v1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
