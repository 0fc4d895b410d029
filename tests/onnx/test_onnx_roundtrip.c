/* Save path: load -> serialize -> load keeps the IR identical field by field,
 * the written files pass onnx.checker, and the onnx Python package reads the
 * same graph and weights back from them. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "graph/ir.h"
#include "onnx/onnx_io.h"
#include "onnx_test_util.h"

/* onnx.checker on a written file. The installed onnx may predate the model's
 * opset (Debian 12: onnx 1.12 knows opsets up to 17); then it cannot judge
 * the file and says "skip". Returns 1 when checked, 0 when skipped. */
static int run_checker(const char *path)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import onnx,sys; m=onnx.load(sys.argv[1]); "
             "op=max([o.version for o in m.opset_import if o.domain in ('','ai.onnx')]); "
             "sk=op>onnx.defs.onnx_opset_version(); sk or onnx.checker.check_model(m); "
             "print('skip' if sk else 'ok')\" '%s' 2>&1", path);
    int st;
    char *out = tqt_run(cmd, &st);
    if (st != 0 || !out || (strncmp(out, "ok", 2) != 0 && strncmp(out, "skip", 4) != 0))
        fail_msg("onnx.checker rejected %s: %s", path, out ? out : "");
    int checked = strncmp(out, "ok", 2) == 0;
    if (!checked)
        printf("  checker skipped for %s (opset newer than the installed onnx)\n", path);
    free(out);
    return checked;
}

/* Round trip one model: in memory (IR identical, bytes stable) and on disk
 * (checker passes, onnx python reads what the original holds). */
static int roundtrip(const char *path, const char *tmp)
{
    tq_error err = {0};
    tq_model *a = NULL, *b = NULL;
    if (tq_model_load(&a, path, &err))
        fail_msg("%s: %s", path, err.msg);
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    if (tq_onnx_serialize(a, &buf, &len, &err))
        fail_msg("%s: serialize: %s", path, err.msg);
    /* No base folder: the saved model must not depend on external data. */
    if (tq_model_load_buffer(&b, buf, len, "roundtrip", NULL, &err))
        fail_msg("%s: reload: %s", path, err.msg);
    /* The only intended change: the file says which IR version it is written in. */
    assert_int_equal(b->ir_version, tq_onnx_saved_ir_version(a));
    b->ir_version = a->ir_version;
    char why[512];
    if (tqt_compare_models(a, b, why, sizeof why))
        fail_msg("%s: round trip changed the IR: %s", path, why);
    assert_int_equal(b->n_external_tensors, 0);
    assert_int_equal(tq_onnx_serialize(b, &buf2, &len2, &err), TQ_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);

    const char *base = strrchr(path, '/');
    char out[8192];
    snprintf(out, sizeof out, "%s/%s", tmp, base ? base + 1 : path);
    if (tq_model_save(a, out, &err))
        fail_msg("%s: save: %s", out, err.msg);
    int checked = run_checker(out);
    char *ref_orig = tqt_reference("model", path);
    char *ref_saved = tqt_reference("model", out);
    assert_non_null(ref_orig);
    assert_non_null(ref_saved);
    /* Same text except the ir_version line. */
    char *diff = tqt_first_diff(strchr(ref_saved, '\n'), strchr(ref_orig, '\n'));
    if (diff)
        fail_msg("%s: onnx python reads the saved copy differently: %s", path, diff);
    free(ref_orig);
    free(ref_saved);
    free(buf);
    free(buf2);
    tq_model_free(&a);
    tq_model_free(&b);
    return checked;
}

static void test_seed_models_roundtrip(void **state)
{
    const char *dir = tqt_seed_models();
    if (!dir)
        skip();
    char *tmp = tqt_mkdtemp();
    assert_non_null(tmp);
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort), done = 0, checked = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(list[i]->d_name);
        if (l > 5 && strcmp(list[i]->d_name + l - 5, ".onnx") == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
            checked += roundtrip(path, tmp);
            done++;
        }
        free(list[i]);
    }
    free(list);
    assert_true(done >= 12);
    /* Only nr_metric_v1 and its int8 file use opset 18 in the seed set. */
    printf("onnx.checker validated %d of %d saved seed models\n", checked, done);
    assert_true(checked >= done - 2);
    tqt_rmdir(tmp);
}

/* A model built through the IR API that uses every attribute kind, every
 * supported dtype, symbolic dims, metadata and a custom-domain node. */
static tq_model *build_synthetic(void)
{
    tq_model *m = tq_model_new();
    m->ir_version = 8;
    m->model_version = 3;
    m->producer_name = strdup("tinyq-test");
    m->producer_version = strdup("1");
    m->domain = strdup("org.tinyq");
    m->doc_string = strdup("synthetic model");
    m->n_opsets = 2;
    m->opsets = calloc(2, sizeof *m->opsets);
    m->opsets[0].domain = strdup("");
    m->opsets[0].version = 17;
    m->opsets[1].domain = strdup("com.example");
    m->opsets[1].version = 1;
    m->n_meta = 1;
    m->meta = calloc(1, sizeof *m->meta);
    m->meta[0].key = strdup("quant_mode");
    m->meta[0].value = strdup("static");
    tq_graph *g = &m->graph;
    g->name = strdup("synthetic");

    static const tq_dtype dts[] = {TQ_FLOAT, TQ_UINT8, TQ_INT8, TQ_UINT16, TQ_INT16, TQ_INT32,
                                   TQ_INT64, TQ_BOOL, TQ_FLOAT16, TQ_DOUBLE, TQ_UINT32, TQ_UINT64};
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        uint8_t bytes[5 * 3 * 8];
        for (size_t k = 0; k < sizeof bytes; k++)
            bytes[k] = (uint8_t)(k * 37 + d * 11);
        if (dts[d] == TQ_BOOL)
            for (size_t k = 0; k < sizeof bytes; k++)
                bytes[k] &= 1;
        if (dts[d] == TQ_FLOAT16) /* keep halfs finite so numpy hashes them stably */
            for (size_t k = 1; k < sizeof bytes; k += 2)
                bytes[k] &= 0x3b;
        if (dts[d] == TQ_FLOAT || dts[d] == TQ_DOUBLE) /* avoid NaN payloads */
            for (size_t k = 0; k < sizeof bytes; k++)
                bytes[k] &= 0x3f;
        char name[32];
        snprintf(name, sizeof name, "w_%s", tq_dtype_name(dts[d]));
        int64_t dims[2] = {5, 3};
        assert_non_null(tq_graph_add_initializer(g, name, dts[d], 2, dims, bytes));
    }
    int64_t none[1] = {0};
    assert_non_null(tq_graph_add_initializer(g, "empty", TQ_FLOAT, 1, none, NULL));

    tq_node *n = tq_graph_add_node(g, "Constant", "const0");
    tq_node_add_output(n, "c0");
    tq_attr *a = tq_node_add_attr(n, "value", TQ_ATTR_TENSOR);
    a->t = calloc(1, sizeof *a->t);
    float cv[4] = {1, 2, 3, 4};
    a->t->name = strdup("");
    a->t->dtype = TQ_FLOAT;
    a->t->rank = 2;
    a->t->dims[0] = 2;
    a->t->dims[1] = 2;
    a->t->nbytes = sizeof cv;
    a->t->data = malloc(sizeof cv);
    memcpy(a->t->data, cv, sizeof cv);

    n = tq_graph_add_node(g, "Custom", "custom0");
    free(n->domain);
    n->domain = strdup("com.example");
    tq_node_add_input(n, "x");
    tq_node_add_input(n, "");
    tq_node_add_input(n, "c0");
    tq_node_add_output(n, "y");
    tq_node_add_attr(n, "alpha", TQ_ATTR_FLOAT)->f = 0.125f;
    tq_node_add_attr(n, "axis", TQ_ATTR_INT)->i = -3;
    tq_node_add_attr(n, "mode", TQ_ATTR_STRING)->s = strdup("linear");
    a = tq_node_add_attr(n, "scales", TQ_ATTR_FLOATS);
    a->n = 2;
    a->floats = malloc(2 * sizeof(float));
    a->floats[0] = 0.5f;
    a->floats[1] = -1e-7f;
    a = tq_node_add_attr(n, "pads", TQ_ATTR_INTS);
    a->n = 3;
    a->ints = malloc(3 * sizeof(int64_t));
    a->ints[0] = 0;
    a->ints[1] = INT64_MAX;
    a->ints[2] = INT64_MIN;
    a = tq_node_add_attr(n, "names", TQ_ATTR_STRINGS);
    a->n = 2;
    a->strings = malloc(2 * sizeof(char *));
    a->strings[0] = strdup("a");
    a->strings[1] = strdup("");

    g->n_inputs = 1;
    g->inputs = calloc(1, sizeof *g->inputs);
    g->inputs[0].name = strdup("x");
    g->inputs[0].dtype = TQ_FLOAT;
    g->inputs[0].rank = 3;
    g->inputs[0].dims[0] = -1;
    g->inputs[0].dim_params[0] = strdup("batch");
    g->inputs[0].dims[1] = -1; /* unknown, no name */
    g->inputs[0].dims[2] = 4;
    g->n_outputs = 1;
    g->outputs = calloc(1, sizeof *g->outputs);
    g->outputs[0].name = strdup("y");
    g->outputs[0].dtype = TQ_FLOAT;
    g->outputs[0].rank = -1; /* shape unknown */
    g->n_value_info = 2;
    g->value_info = calloc(2, sizeof *g->value_info);
    g->value_info[0].name = strdup("c0");
    g->value_info[0].dtype = TQ_FLOAT;
    g->value_info[0].rank = 0;
    g->value_info[1].name = strdup("untyped");
    g->value_info[1].rank = -1;
    return m;
}

static void test_synthetic_roundtrip(void **state)
{
    tq_model *a = build_synthetic(), *b = NULL;
    tq_error err = {0};
    uint8_t *buf;
    size_t len;
    if (tq_onnx_serialize(a, &buf, &len, &err))
        fail_msg("%s", err.msg);
    if (tq_model_load_buffer(&b, buf, len, "synthetic", NULL, &err))
        fail_msg("%s", err.msg);
    char why[512];
    if (tqt_compare_models(a, b, why, sizeof why))
        fail_msg("synthetic round trip: %s", why);
    assert_string_equal(b->graph.inputs[0].dim_params[0], "batch");
    assert_null(b->graph.inputs[0].dim_params[1]);

    /* The comparison helper itself must notice a one-bit change. */
    ((uint8_t *)b->graph.initializers[3].data)[7] ^= 1;
    assert_int_not_equal(tqt_compare_models(a, b, why, sizeof why), 0);
    b->graph.nodes[1].attrs[0].f = 0.25f;
    ((uint8_t *)b->graph.initializers[3].data)[7] ^= 1;
    assert_int_not_equal(tqt_compare_models(a, b, why, sizeof why), 0);

    /* onnx python reads our encoding of every dtype as we meant it. */
    char *tmp = tqt_mkdtemp();
    char path[4096];
    snprintf(path, sizeof path, "%s/synthetic.onnx", tmp);
    if (tq_model_save(a, path, &err))
        fail_msg("%s", err.msg);
    char *ref = tqt_reference("model", path);
    assert_non_null(ref);
    char *mine = tqt_dump_model(a);
    char *diff = tqt_first_diff(mine, ref);
    if (diff)
        fail_msg("synthetic model: onnx python disagrees at %s", diff);
    free(mine);
    free(ref);
    tqt_rmdir(tmp);
    free(buf);
    tq_model_free(&a);
    tq_model_free(&b);
}

static void test_save_is_atomic_and_reports_path(void **state)
{
    tq_model *m = build_synthetic();
    tq_error err = {0};
    /* A folder that does not exist: error names the output path, nothing left behind. */
    int rc = tq_model_save(m, "/nonexistent-tinyq-dir/out.onnx", &err);
    assert_int_equal(rc, TQ_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-tinyq-dir/out.onnx"));

    /* Graph attributes are kept only by type and cannot be written back. */
    tq_error err2 = {0};
    tq_node_add_attr(&m->graph.nodes[0], "then_branch", TQ_ATTR_GRAPH);
    uint8_t *buf;
    size_t len;
    assert_int_equal(tq_onnx_serialize(m, &buf, &len, &err2), TQ_EUNSUPPORTED);
    assert_non_null(strstr(err2.msg, "then_branch"));
    tq_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_models_roundtrip),
        cmocka_unit_test(test_synthetic_roundtrip),
        cmocka_unit_test(test_save_is_atomic_and_reports_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
