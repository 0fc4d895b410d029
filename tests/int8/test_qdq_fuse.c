/* The static-QDQ fusion (graph/fuse_qdq.c) on the quantiser's own output for
 * fixtures/cnn.onnx (skipped when the fixture is absent): every Conv and
 * BatchNormalization and the Gemm must be gone (9 QLinearConv, 7
 * tinyq.QEltwise, 1 tinyq.QGemm), and the
 * fused integer graph must agree with the same file run op by op in float
 * (DequantizeLinear -> float Conv -> QuantizeLinear) to within one output
 * quantisation step for every logit. Agreement with ONNX Runtime on the same
 * files is checked by tests/quant/quant_e2e.py. With reduce-range and
 * full-range weights the fused graph must also give bit-identical logits on
 * every CPU tier (AVX2 without VNNI -- the paired u8 x s8 kernel --, C
 * only, all). */
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
#include "kernels/cpu.h"
#include "runtime/session_internal.h"
#include "tinyq/quantize.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float rnd01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / 16777216.0f;
}

static int count_ops(const tq_session *s, const char *domain, const char *op)
{
    int n = 0;
    for (int i = 0; i < s->model->graph.n_nodes; i++) {
        const tq_node *nd = &s->model->graph.nodes[i];
        if (strcmp(nd->op_type, op) == 0 && strcmp(nd->domain ? nd->domain : "", domain) == 0)
            n++;
    }
    return n;
}

/* Scale of the DequantizeLinear that produces graph output 0. */
static float output_step(const tq_model *m)
{
    const tq_graph *g = &m->graph;
    for (int i = 0; i < g->n_nodes; i++) {
        const tq_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "DequantizeLinear") == 0 && n->n_outputs == 1 &&
            strcmp(n->outputs[0], g->outputs[0].name) == 0) {
            const tq_tensor *s = tq_graph_find_initializer(g, n->inputs[1]);
            return s && s->dtype == TQ_FLOAT ? *(const float *)s->data : 0.0f;
        }
    }
    return 0.0f;
}

/* fixtures/cnn.onnx quantised in memory (static per channel), or NULL
 * when the fixtures are missing (the caller skips). */
static tq_model *quantised_cnn(tq_dtype act, int reduce_range)
{
    const char *root = getenv("TQ_SOURCE_ROOT");
    char path[4096], cal[4096];
    snprintf(path, sizeof path, "%s/fixtures/cnn.onnx", root ? root : ".");
    snprintf(cal, sizeof cal, "%s/fixtures/cnn_calib.npz", root ? root : ".");
    FILE *f = fopen(path, "rb"), *fc = fopen(cal, "rb");
    if (f)
        fclose(f);
    if (fc)
        fclose(fc);
    if (!f || !fc)
        return NULL;
    tq_model *m = NULL;
    tq_error err = {0};
    assert_int_equal(tq_model_load(&m, path, &err), TQ_OK);
    tq_quant_settings qs;
    tq_quant_default_settings(&qs);
    qs.mode = TQ_QUANT_STATIC;
    qs.per_channel = 1;
    qs.reduce_range = reduce_range;
    qs.activation_type = act;
    tq_quant_summary sum;
    int rc = tq_quantize_model(m, &qs, cal, &sum, &err);
    if (rc)
        fail_msg("%s", err.msg);
    return m;
}

static void check(tq_dtype act)
{
    tq_model *m = quantised_cnn(act, 0);
    if (!m) {
        skip();
        return;
    }
    tq_error err = {0};
    tq_session *fused = NULL, *plain = NULL;
    assert_int_equal(tq_session_create_ex(&fused, m, true, &err), TQ_OK);
    assert_int_equal(tq_session_create_ex(&plain, m, false, &err), TQ_OK);
    assert_int_equal(count_ops(fused, "", "QLinearConv"), 9);
    /* The quantiser folds BatchNormalization into the convs first, so the
     * float islands left are the three residual Add(+Relu) joins. */
    assert_int_equal(count_ops(fused, "tinyq", "QEltwise"), 3);
    /* the 64x10 classifier: an integer QGemm too */
    assert_int_equal(count_ops(fused, "tinyq", "QGemm"), 1);
    assert_int_equal(count_ops(fused, "", "Conv"), 0);
    assert_int_equal(count_ops(fused, "", "Gemm"), 0);
    assert_int_equal(count_ops(fused, "", "BatchNormalization"), 0);
    float step = output_step(m);
    assert_true(step > 0.0f);

    tq_tensor_view in;
    assert_int_equal(tq_model_input(m, 0, &in), TQ_OK);
    in.dims[0] = 1;
    int64_t n = tq_shape_numel(in.dims, in.rank);
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);
    int max_steps = 0;
    for (int trial = 0; trial < 20; trial++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = rnd01() * (trial % 2 ? 1.0f : 3.0f) - (trial % 3 ? 0.0f : 0.5f);
        in.data = x;
        tq_tensor_view a, b;
        assert_int_equal(tq_session_run(fused, &in, 1, &a, 1, &err), TQ_OK);
        assert_int_equal(tq_session_run(plain, &in, 1, &b, 1, &err), TQ_OK);
        int64_t on = tq_shape_numel(a.dims, a.rank);
        assert_int_equal(on, tq_shape_numel(b.dims, b.rank));
        for (int64_t i = 0; i < on; i++) {
            float d = fabsf(((const float *)a.data)[i] - ((const float *)b.data)[i]);
            int steps = (int)lrintf(d / step);
            max_steps = steps > max_steps ? steps : max_steps;
        }
    }
    print_message("cnn static %s: max |fused - unfused| = %d output steps\n",
                  act == TQ_INT8 ? "int8" : "uint8", max_steps);
    assert_true(max_steps <= 1);
    free(x);
    tq_session_free(&fused);
    tq_session_free(&plain);
    tq_model_free(&m);
}

static void test_cnn_static_int8(void **st) { (void)st; check(TQ_INT8); }
static void test_cnn_static_uint8(void **st) { (void)st; check(TQ_UINT8); }

/* The product CPU path: on AVX2 without VNNI, reduce-range and full-range
 * weights (whose quads over the bound the schedule splits) take the paired
 * u8 x s8 kernel (qgemm_c4u_pairs), and QEltwise the one-pass kernel. Integer results are exact and every float step is the unfused
 * op's, so the fused CNN must give the same bytes -- hence the same logits,
 * bit for bit -- on every CPU tier: AVX2 only (TQ_CPU_MASK=1), C only (the
 * int16 im2col GEMM and the scalar QEltwise), and everything the machine
 * has (VNNI where present); and at batch 5 the same bytes per image. */
static void check_tiers(tq_dtype act, int reduce_range)
{
    tq_model *m = quantised_cnn(act, reduce_range);
    if (!m) {
        skip();
        return;
    }
    tq_error err = {0};
    const unsigned masks[3] = { 1u, 0u, ~0u }; /* AVX2, C, all */
    tq_session *s[3] = { NULL, NULL, NULL };
    tq_tensor_view in;
    assert_int_equal(tq_model_input(m, 0, &in), TQ_OK);
    in.dims[0] = 1;
    int64_t n = tq_shape_numel(in.dims, in.rank);
    float *x = malloc(sizeof(float) * (size_t)n);
    float *ref = NULL;
    assert_non_null(x);
    for (int trial = 0; trial < 10; trial++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = rnd01() * (trial % 2 ? 1.0f : 3.0f) - (trial % 3 ? 0.0f : 0.5f);
        in.data = x;
        int64_t on = 0;
        for (int t = 0; t < 3; t++) {
            /* the tier is fixed when a session plans (its first run) */
            tq_cpu_set_mask(masks[t]);
            if (!s[t])
                assert_int_equal(tq_session_create_ex(&s[t], m, true, &err), TQ_OK);
            tq_tensor_view y;
            int rc = tq_session_run(s[t], &in, 1, &y, 1, &err);
            if (rc)
                fail_msg("%s", err.msg);
            on = tq_shape_numel(y.dims, y.rank);
            if (t == 0) {
                free(ref);
                ref = malloc(sizeof(float) * (size_t)on);
                assert_non_null(ref);
                memcpy(ref, y.data, sizeof(float) * (size_t)on);
            } else {
                assert_memory_equal(ref, y.data, sizeof(float) * (size_t)on);
            }
        }
    }
    /* a batch of 5 on the AVX2 tier gives each image's batch-1 bytes (the
     * per-image layouts, row blocks and batch slicing) */
    enum { B = 5 };
    float *xb = malloc(sizeof(float) * (size_t)n * B), *yb = malloc(sizeof(float) * 10 * B);
    assert_true(xb && yb);
    for (int64_t i = 0; i < n * B; i++)
        xb[i] = rnd01() * 2.0f - 0.25f;
    tq_cpu_set_mask(1u);
    tq_tensor_view y;
    in.dims[0] = B;
    in.data = xb;
    assert_int_equal(tq_session_run(s[0], &in, 1, &y, 1, &err), TQ_OK);
    assert_int_equal(tq_shape_numel(y.dims, y.rank), 10 * B);
    memcpy(yb, y.data, sizeof(float) * 10 * B);
    in.dims[0] = 1;
    for (int b = 0; b < B; b++) {
        in.data = xb + (size_t)b * (size_t)n;
        assert_int_equal(tq_session_run(s[0], &in, 1, &y, 1, &err), TQ_OK);
        assert_memory_equal(y.data, yb + 10 * b, sizeof(float) * 10);
    }
    free(xb);
    free(yb);
    tq_cpu_set_mask(~0u);
    free(x);
    free(ref);
    for (int t = 0; t < 3; t++)
        tq_session_free(&s[t]);
    tq_model_free(&m);
}

static void test_cnn_tiers_int8(void **st)
{
    (void)st;
    check_tiers(TQ_INT8, 1);
    check_tiers(TQ_INT8, 0);
}
static void test_cnn_tiers_uint8(void **st)
{
    (void)st;
    check_tiers(TQ_UINT8, 1);
    check_tiers(TQ_UINT8, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn_static_int8),
        cmocka_unit_test(test_cnn_static_uint8),
        cmocka_unit_test(test_cnn_tiers_int8),
        cmocka_unit_test(test_cnn_tiers_uint8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
