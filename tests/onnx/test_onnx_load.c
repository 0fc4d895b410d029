/* Loading the seed models: everything tinyq reads must equal what the official
 * onnx Python package reads (graph, initializer bytes, inputs/outputs), external
 * data is accounted for, and sanitize removes exactly the value_info duplicates. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "graph/ir.h"
#include "onnx_test_util.h"

static int is_onnx(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".onnx") == 0;
}

/* Every .onnx in the seed folder, sorted; NULL-terminated, malloc'ed. */
static char **seed_model_paths(const char *dir)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    assert_true(n >= 0);
    char **paths = calloc((size_t)n + 1, sizeof *paths);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (is_onnx(list[i]->d_name)) {
            paths[k] = malloc(strlen(dir) + strlen(list[i]->d_name) + 2);
            sprintf(paths[k++], "%s/%s", dir, list[i]->d_name);
        }
        free(list[i]);
    }
    free(list);
    return paths;
}

static void free_paths(char **p)
{
    for (int i = 0; p[i]; i++)
        free(p[i]);
    free(p);
}

static void test_seed_models_match_onnx_python(void **state)
{
    const char *dir = tqt_seed_models();
    if (!dir)
        skip();
    char **paths = seed_model_paths(dir);
    int n = 0;
    for (; paths[n]; n++) {
        tq_error err = {0};
        tq_model *m = NULL;
        int rc = tq_model_load(&m, paths[n], &err);
        if (rc)
            fail_msg("%s: load failed: %s", paths[n], err.msg);
        struct stat st;
        assert_int_equal(stat(paths[n], &st), 0);
        assert_int_equal(m->file_bytes, (size_t)st.st_size);
        assert_string_equal(m->path, paths[n]);

        char *mine = tqt_dump_model(m);
        char *ref = tqt_reference("model", paths[n]);
        assert_non_null(ref);
        char *diff = tqt_first_diff(mine, ref);
        if (diff)
            fail_msg("%s differs from onnx python at %s", paths[n], diff);
        free(mine);
        free(ref);
        tq_model_free(&m);
        assert_null(m);
    }
    assert_true(n >= 12); /* the seed set has 12 models; all must be seen */
    free_paths(paths);
}

static void test_external_data_accounting(void **state)
{
    const char *dir = tqt_seed_models();
    if (!dir)
        skip();
    char path[4096];
    snprintf(path, sizeof path, "%s/fr_regressor_v1.onnx", dir);
    tq_error err = {0};
    tq_model *m = NULL;
    if (tq_model_load(&m, path, &err))
        fail_msg("%s", err.msg);
    /* onnx python: net.0.weight (64x6) and net.3.weight (64x64) live in the
     * .data file at offsets 0 and 1536 (see the model's external_data). */
    assert_int_equal(m->n_external_tensors, 2);
    assert_int_equal(m->external_bytes, (64 * 6 + 64 * 64) * sizeof(float));
    tq_model_free(&m);

    snprintf(path, sizeof path, "%s/vmaf_tiny_v2.onnx", dir);
    if (tq_model_load(&m, path, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(m->n_external_tensors, 0);
    assert_int_equal(m->external_bytes, 0);
    tq_model_free(&m);
}

static void test_inputs_exclude_initializers_and_report_dynamic_dims(void **state)
{
    const char *dir = tqt_seed_models();
    if (!dir)
        skip();
    char path[4096];
    snprintf(path, sizeof path, "%s/fr_regressor_v2.onnx", dir);
    tq_error err = {0};
    tq_model *m = NULL;
    if (tq_model_load(&m, path, &err))
        fail_msg("%s", err.msg);
    /* Reference: onnx python lists inputs features [batch, 6] and codec [batch, 14]. */
    assert_int_equal(tq_model_num_inputs(m), 2);
    tq_tensor_view v;
    assert_int_equal(tq_model_input(m, 1, &v), TQ_OK);
    assert_string_equal(v.name, "codec");
    assert_int_equal(v.rank, 2);
    assert_int_equal(v.dims[0], -1);
    assert_int_equal(v.dims[1], 14);
    assert_int_equal(tq_model_input(m, 2, &v), TQ_EINVAL);
    assert_int_equal(tq_model_output(m, 0, &v), TQ_OK);
    assert_int_equal(tq_model_output(m, 1, &v), TQ_EINVAL);

    /* An old-IR style model that also lists a weight among graph.input. */
    tq_value_info *in = realloc(m->graph.inputs, (size_t)(m->graph.n_inputs + 1) * sizeof *in);
    assert_non_null(in);
    m->graph.inputs = in;
    memset(&in[m->graph.n_inputs], 0, sizeof *in);
    in[m->graph.n_inputs].name = strdup(m->graph.initializers[0].name);
    in[m->graph.n_inputs].rank = -1;
    m->graph.n_inputs++;
    assert_int_equal(tq_model_num_inputs(m), 2);
    tq_model_free(&m);
}

/* Sanitize removes exactly the value_info entries that name an initializer,
 * keeps the others in order, and is idempotent. */
static void check_sanitize(const char *dir, const char *file, int expected)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    tq_error err = {0};
    tq_model *m = NULL;
    if (tq_model_load(&m, path, &err))
        fail_msg("%s", err.msg);
    const tq_graph *g = &m->graph;
    int n_before = g->n_value_info, n_keep = 0;
    char **keep = calloc((size_t)n_before + 1, sizeof *keep);
    for (int i = 0; i < n_before; i++)
        if (tq_graph_initializer_index(g, g->value_info[i].name) < 0)
            keep[n_keep++] = strdup(g->value_info[i].name);
    assert_int_equal(n_before - n_keep, expected);

    int removed = tq_model_sanitize(m);
    if (removed != expected)
        fail_msg("%s: sanitize removed %d, expected %d", file, removed, expected);
    assert_int_equal(g->n_value_info, n_keep);
    for (int i = 0; i < n_keep; i++)
        assert_string_equal(g->value_info[i].name, keep[i]);
    assert_int_equal(tq_model_sanitize(m), 0);
    for (int i = 0; i < n_keep; i++)
        free(keep[i]);
    free(keep);
    tq_model_free(&m);
}

static void test_sanitize_counts(void **state)
{
    const char *dir = tqt_seed_models();
    if (!dir)
        skip();
    /* Counts from the seed README / onnx python (value_info names that are initializers). */
    check_sanitize(dir, "vmaf_tiny_v2.onnx", 9);
    check_sanitize(dir, "fr_regressor_v1.onnx", 10);
    check_sanitize(dir, "learned_filter_v1.onnx", 22);
    check_sanitize(dir, "nr_metric_v1.onnx", 0);
    check_sanitize(dir, "learned_filter_v1.int8.onnx", 12);
}

/* Typed repeated fields (float_data, int32_data for the small types, ...)
 * decoded against numpy's reading of the same model. */
static void test_typed_fields_match_onnx_python(void **state)
{
    char *tmp = tqt_mkdtemp();
    assert_non_null(tmp);
    char path[4096];
    snprintf(path, sizeof path, "%s/typed.onnx", tmp);
    char *made = tqt_reference("make-typed", path);
    assert_non_null(made);
    free(made);
    tq_error err = {0};
    tq_model *m = NULL;
    if (tq_model_load(&m, path, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(m->graph.n_initializers, 12);
    char *mine = tqt_dump_model(m);
    char *ref = tqt_reference("model", path);
    assert_non_null(ref);
    char *diff = tqt_first_diff(mine, ref);
    if (diff)
        fail_msg("typed-field model differs from onnx python at %s", diff);
    /* Spot-check the int32_data narrowing rules directly. */
    const tq_tensor *t = tq_graph_find_initializer(&m->graph, "t3");
    assert_int_equal(((const int8_t *)t->data)[0], -128);
    t = tq_graph_find_initializer(&m->graph, "t10");
    assert_int_equal(((const uint16_t *)t->data)[2], 0x7bff); /* 65504 in half */
    free(mine);
    free(ref);
    tq_model_free(&m);
    tqt_rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_models_match_onnx_python),
        cmocka_unit_test(test_external_data_accounting),
        cmocka_unit_test(test_inputs_exclude_initializers_and_report_dynamic_dims),
        cmocka_unit_test(test_sanitize_counts),
        cmocka_unit_test(test_typed_fields_match_onnx_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
