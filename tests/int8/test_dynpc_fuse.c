/* Dynamic int8 with per-channel weight scales (tinyq quantize --mode dynamic
 * --per-channel) through the fusion pass (graph/fuse_dynamic.c):
 *
 * - the quantiser's own output for fixtures/cnn.onnx, fixtures/mlp.onnx and
 *   the nr_metric_v1 seed model (skipped when absent), per channel and per
 *   tensor: every ConvInteger / MatMulInteger chain must become a tinyq
 *   fused op (no integer op, no Cast left), with outputs bit-identical to the
 *   graph run op by op, on every CPU tier;
 * - hand-built chains whose weight-scale Mul broadcasts along the channel
 *   axis ([C,1,1], [1,C,1,1]: fused) or along another axis ([C] against the
 *   width, [1,1,C,1] against the height, [C,1,1,1] against the batch: must
 *   stay unfused). The scales differ per channel, so a wrong match changes
 *   the outputs (or their shape) and the comparison fails. */
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
#include "kernels/cpu.h"
#include "runtime/session_internal.h"
#include "tinyq/quantize.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static float rnd01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / 16777216.0f;
}

static int count_ops(const tq_model *m, const char *domain, const char *op)
{
    int n = 0;
    for (int i = 0; i < m->graph.n_nodes; i++) {
        const tq_node *nd = &m->graph.nodes[i];
        if (strcmp(nd->op_type, op) == 0 && strcmp(nd->domain ? nd->domain : "", domain) == 0)
            n++;
    }
    return n;
}

/* Run a and b on the same input (batch `batch` where the first dim is
 * symbolic); outputs must have the same shape and bytes. */
static void same_outputs(tq_session *a, tq_session *b, const tq_model *m, int batch,
                         float lo, float span)
{
    tq_error err = {0};
    tq_tensor_view in;
    assert_int_equal(tq_model_input(m, 0, &in), TQ_OK);
    for (int d = 0; d < in.rank; d++)
        if (in.dims[d] < 0)
            in.dims[d] = batch;
    int64_t n = tq_shape_numel(in.dims, in.rank);
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + span * rnd01();
    in.data = x;
    tq_tensor_view ya, yb;
    if (tq_session_run(a, &in, 1, &ya, 1, &err))
        fail_msg("%s", err.msg);
    if (tq_session_run(b, &in, 1, &yb, 1, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(ya.rank, yb.rank);
    for (int d = 0; d < ya.rank; d++)
        assert_int_equal(ya.dims[d], yb.dims[d]);
    assert_memory_equal(ya.data, yb.data, sizeof(float) * (size_t)tq_shape_numel(ya.dims, ya.rank));
    free(x);
}

/* ---- the quantiser's output */

static tq_model *quantised(const char *path, int per_channel)
{
    if (access(path, R_OK) != 0)
        return NULL;
    tq_model *m = NULL;
    tq_error err = {0};
    if (tq_model_load(&m, path, &err))
        fail_msg("%s", err.msg);
    tq_quant_settings qs;
    tq_quant_default_settings(&qs);
    qs.mode = TQ_QUANT_DYNAMIC;
    qs.per_channel = per_channel;
    tq_quant_summary sum;
    if (tq_quantize_model(m, &qs, NULL, &sum, &err))
        fail_msg("%s", err.msg);
    return m;
}

static void check_file(const char *path, int per_channel, int batch)
{
    tq_model *m = quantised(path, per_channel);
    if (!m) {
        skip();
        return;
    }
    int n_int = count_ops(m, "", "ConvInteger") + count_ops(m, "", "MatMulInteger");
    assert_true(n_int > 0);
    const unsigned masks[3] = { 1u, 0u, ~0u }; /* AVX2, C, all */
    for (int t = 0; t < 3; t++) {
        /* the tier is fixed when a session plans (its first run) */
        tq_cpu_set_mask(masks[t]);
        tq_error err = {0};
        tq_session *fused = NULL, *plain = NULL;
        assert_int_equal(tq_session_create_ex(&fused, m, true, &err), TQ_OK);
        assert_int_equal(tq_session_create_ex(&plain, m, false, &err), TQ_OK);
        const tq_model *fm = fused->model;
        assert_int_equal(count_ops(fm, "tinyq", "DynQConv") + count_ops(fm, "tinyq", "DynQMatMul"),
                         n_int);
        assert_int_equal(count_ops(fm, "", "ConvInteger") + count_ops(fm, "", "MatMulInteger"), 0);
        assert_int_equal(count_ops(fm, "", "Cast"), 0);
        for (int trial = 0; trial < 3; trial++) /* [0,1) as the SPEC set, then signed */
            same_outputs(fused, plain, m, trial == 2 ? batch : 1, trial ? -1.5f : 0.0f,
                         trial ? 4.0f : 1.0f);
        tq_session_free(&fused);
        tq_session_free(&plain);
    }
    tq_cpu_set_mask(~0u);
    tq_model_free(&m);
}

static void fixture(char *path, size_t n, const char *name)
{
    const char *root = getenv("TQ_SOURCE_ROOT");
    snprintf(path, n, "%s/fixtures/%s", root ? root : ".", name);
}

static void test_cnn(void **st)
{
    (void)st;
    char p[4096];
    fixture(p, sizeof p, "cnn.onnx");
    check_file(p, 1, 2);
    check_file(p, 0, 2);
}

static void test_mlp(void **st)
{
    (void)st;
    char p[4096];
    fixture(p, sizeof p, "mlp.onnx");
    check_file(p, 1, 5);
    check_file(p, 0, 5);
}

static void test_nr_metric(void **st)
{
    (void)st;
    const char *dir = getenv("TQ_SEED_MODELS");
    if (!dir) {
        skip();
        return;
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/nr_metric_v1.onnx", dir);
    check_file(p, 1, 1);
    check_file(p, 0, 1);
}

/* ---- hand-built chains */

static void set_vi(tq_value_info *v, const char *name, int rank, const int64_t *dims)
{
    v->name = strdup(name);
    v->dtype = TQ_FLOAT;
    v->rank = rank;
    for (int d = 0; d < rank; d++)
        v->dims[d] = dims[d];
}

static void add_node(tq_graph *g, const char *op, const char *const *in, int n_in,
                     const char *const *out, int n_out)
{
    tq_node *n = tq_graph_add_node(g, op, out[0]);
    assert_non_null(n);
    for (int i = 0; i < n_in; i++)
        assert_int_equal(tq_node_add_input(n, in[i]), TQ_OK);
    for (int i = 0; i < n_out; i++)
        assert_int_equal(tq_node_add_output(n, out[i]), TQ_OK);
}

/* x [1,C,S,S] -> DynamicQuantizeLinear -> ConvInteger (1x1, C -> C, int8
 * weights, zero point 0) -> Cast -> Mul(x_scale * w_scale) -> Add(bias
 * [1,C,1,1]) -> Relu -> y, with w_scale of the given shape (C distinct
 * values along its non-1 axis, or one). */
static tq_model *conv_chain(int64_t C, int64_t S, int s_rank, const int64_t *s_dims)
{
    tq_model *m = tq_model_new();
    assert_non_null(m);
    m->ir_version = 8;
    m->n_opsets = 1;
    m->opsets = calloc(1, sizeof *m->opsets);
    assert_non_null(m->opsets);
    m->opsets[0].domain = strdup("");
    m->opsets[0].version = 13;
    tq_graph *g = &m->graph;
    g->inputs = calloc(1, sizeof *g->inputs);
    g->outputs = calloc(1, sizeof *g->outputs);
    assert_true(g->inputs && g->outputs);
    g->n_inputs = g->n_outputs = 1;
    const int64_t xd[4] = { 1, C, S, S };
    set_vi(&g->inputs[0], "x", 4, xd);
    set_vi(&g->outputs[0], "y", -1, NULL);

    int8_t *w = malloc((size_t)(C * C));
    float *ws = malloc(sizeof(float) * (size_t)C), *b = malloc(sizeof(float) * (size_t)C);
    assert_true(w && ws && b);
    for (int64_t i = 0; i < C * C; i++)
        w[i] = (int8_t)((int)(rnd01() * 255.0f) - 127);
    for (int64_t i = 0; i < C; i++) {
        ws[i] = 0.001f * (float)(i + 1) + 0.0001f * rnd01();
        b[i] = rnd01() - 0.5f;
    }
    const int64_t wd[4] = { C, C, 1, 1 }, bd[4] = { 1, C, 1, 1 };
    const int8_t zp = 0;
    assert_non_null(tq_graph_add_initializer(g, "w", TQ_INT8, 4, wd, w));
    assert_non_null(tq_graph_add_initializer(g, "w_zp", TQ_INT8, 0, NULL, &zp));
    assert_non_null(tq_graph_add_initializer(g, "w_s", TQ_FLOAT, s_rank, s_dims, ws));
    assert_non_null(tq_graph_add_initializer(g, "bias", TQ_FLOAT, 4, bd, b));
    free(w);
    free(ws);
    free(b);

    const char *dq_out[3] = { "xq", "xs", "xzp" };
    add_node(g, "DynamicQuantizeLinear", (const char *[]){ "x" }, 1, dq_out, 3);
    add_node(g, "Mul", (const char *[]){ "xs", "w_s" }, 2, (const char *[]){ "sprod" }, 1);
    add_node(g, "ConvInteger", (const char *[]){ "xq", "w", "xzp", "w_zp" }, 4,
             (const char *[]){ "acc" }, 1);
    add_node(g, "Cast", (const char *[]){ "acc" }, 1, (const char *[]){ "accf" }, 1);
    tq_attr *to = tq_node_add_attr(&g->nodes[g->n_nodes - 1], "to", TQ_ATTR_INT);
    assert_non_null(to);
    to->i = TQ_FLOAT;
    add_node(g, "Mul", (const char *[]){ "accf", "sprod" }, 2, (const char *[]){ "scaled" }, 1);
    add_node(g, "Add", (const char *[]){ "scaled", "bias" }, 2, (const char *[]){ "biased" }, 1);
    add_node(g, "Relu", (const char *[]){ "biased" }, 1, (const char *[]){ "y" }, 1);
    return m;
}

static void check_chain(int64_t C, int64_t S, int s_rank, const int64_t *s_dims, int expect_fused)
{
    tq_model *m = conv_chain(C, S, s_rank, s_dims);
    tq_error err = {0};
    tq_session *fused = NULL, *plain = NULL;
    if (tq_session_create_ex(&fused, m, true, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(tq_session_create_ex(&plain, m, false, &err), TQ_OK);
    assert_int_equal(count_ops(fused->model, "tinyq", "DynQConv"), expect_fused);
    if (expect_fused) /* the whole chain, Relu included */
        assert_int_equal(fused->model->graph.n_nodes, 1);
    for (int trial = 0; trial < 3; trial++)
        same_outputs(fused, plain, m, 1, trial ? -2.0f : 0.0f, trial ? 5.0f : 1.0f);
    tq_session_free(&fused);
    tq_session_free(&plain);
    tq_model_free(&m);
}

static void test_chain_channel_axis(void **st)
{
    (void)st;
    check_chain(8, 8, 3, (const int64_t[]){ 8, 1, 1 }, 1);    /* what tinyq writes */
    check_chain(8, 8, 4, (const int64_t[]){ 1, 8, 1, 1 }, 1);
    check_chain(8, 8, 0, NULL, 1);                             /* per tensor */
    check_chain(8, 8, 1, (const int64_t[]){ 1 }, 1);
    check_chain(1, 6, 3, (const int64_t[]){ 1, 1, 1 }, 1);     /* one channel */
}

static void test_chain_other_axis(void **st)
{
    (void)st;
    check_chain(8, 8, 1, (const int64_t[]){ 8 }, 0);           /* along the width */
    check_chain(8, 8, 4, (const int64_t[]){ 1, 1, 8, 1 }, 0);  /* along the height */
    check_chain(8, 8, 2, (const int64_t[]){ 8, 1 }, 0);        /* along the height */
    check_chain(8, 8, 4, (const int64_t[]){ 8, 1, 1, 1 }, 0);  /* along the batch */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_channel_axis),
        cmocka_unit_test(test_chain_other_axis),
        cmocka_unit_test(test_mlp),
        cmocka_unit_test(test_cnn),
        cmocka_unit_test(test_nr_metric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
