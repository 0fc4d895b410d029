/* Batch slicing (src/runtime/batch_slice.c): a batch run as slices through a
 * plan for a few images gives bit-identical outputs to the whole-batch run
 * (TQ_NO_SLICE=1), with a smaller arena (so it really sliced); graphs with
 * a batch-wide op (DynamicQuantizeLinear's range covers the whole batch) are
 * never sliced, and batch sizes without a small divisor run whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tinyq/tinyq.h"

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
}

typedef struct result {
    float *out;
    int64_t n_out;
    size_t arena;
} result;

static result run(const char *rel, const char *in_name, int rank, const int64_t *dims,
                  bool slice)
{
    const char *root = getenv("TQ_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
    setenv("TQ_NO_SLICE", slice ? "0" : "1", 1); /* read when the session is made */
    tq_error err = {0};
    tq_model *m = NULL;
    tq_session *s = NULL;
    assert_int_equal(tq_model_load(&m, path, &err), TQ_OK);
    assert_int_equal(tq_session_create(&s, m, &err), TQ_OK);
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= dims[d];
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);
    fill(x, (size_t)n, 11);
    tq_tensor_view in = {.name = in_name, .dtype = TQ_FLOAT, .rank = rank, .data = x};
    memcpy(in.dims, dims, sizeof(int64_t) * (size_t)rank);
    tq_tensor_view out[1];
    assert_int_equal(tq_session_run(s, &in, 1, out, 1, &err), TQ_OK);
    assert_int_equal(out[0].dims[0], dims[0]);
    result r = {0};
    r.n_out = 1;
    for (int d = 0; d < out[0].rank; d++)
        r.n_out *= out[0].dims[d];
    r.out = malloc(sizeof(float) * (size_t)r.n_out);
    assert_non_null(r.out);
    memcpy(r.out, out[0].data, sizeof(float) * (size_t)r.n_out);
    r.arena = tq_session_arena_bytes(s);
    free(x);
    tq_session_free(&s);
    tq_model_free(&m);
    unsetenv("TQ_NO_SLICE");
    return r;
}

static void compare(const char *rel, const char *in_name, int rank, const int64_t *dims,
                    bool expect_sliced)
{
    result whole = run(rel, in_name, rank, dims, false);
    result sliced = run(rel, in_name, rank, dims, true);
    assert_int_equal(whole.n_out, sliced.n_out);
    assert_memory_equal(whole.out, sliced.out, sizeof(float) * (size_t)whole.n_out);
    if (expect_sliced)
        assert_true(sliced.arena < whole.arena);
    else
        assert_int_equal(sliced.arena, whole.arena);
    free(whole.out);
    free(sliced.out);
}

static void test_cnn_slices_bit_identical(void **state)
{
    (void)state;
    const int64_t b16[] = { 16, 1, 28, 28 }, b6[] = { 6, 1, 28, 28 };
    compare("fixtures/cnn.onnx", "input", 4, b16, true);
    compare("fixtures/cnn.onnx", "input", 4, b6, true);
}

static void test_prime_batch_runs_whole(void **state)
{
    (void)state;
    const int64_t b11[] = { 11, 1, 28, 28 };
    compare("fixtures/cnn.onnx", "input", 4, b11, false);
}

static void test_batch_wide_op_not_sliced(void **state)
{
    (void)state;
    const int64_t b8[] = { 8, 6 };
    compare("models/tiny/mlp_regressor_dynamic.int8.onnx", "features", 2, b8, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn_slices_bit_identical),
        cmocka_unit_test(test_prime_batch_runs_whole),
        cmocka_unit_test(test_batch_wide_op_not_sliced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
