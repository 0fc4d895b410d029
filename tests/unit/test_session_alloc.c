/* The executor plans memory once per input shape: after the first run of a
 * shape, runs allocate nothing (malloc/calloc/realloc are wrapped with
 * -Wl,--wrap and counted) and give bit-identical results; a new batch size
 * re-plans, and going back to the first shape still matches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tinyq/tinyq.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t s);
void *__wrap_realloc(void *p, size_t n);

static int counting;
static long allocations;

void *__wrap_malloc(size_t n)
{
    allocations += counting;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t s)
{
    allocations += counting;
    return __real_calloc(n, s);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocations += counting;
    return __real_realloc(p, n);
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)(seed >> 8) / 16777216.0f;
    }
}

static void run_model(const char *rel, const char *in_name, int64_t per_sample)
{
    const char *root = getenv("TQ_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
    tq_error err = {0};
    tq_model *m = NULL;
    tq_session *s = NULL;
    assert_int_equal(tq_model_load(&m, path, &err), TQ_OK);
    assert_int_equal(tq_session_create(&s, m, &err), TQ_OK);

    enum { BATCH = 4 };
    float *x = malloc(sizeof(float) * (size_t)(per_sample * BATCH));
    fill(x, (size_t)(per_sample * BATCH), 7);
    tq_tensor_view in = {.name = in_name, .dtype = TQ_FLOAT, .data = x};
    tq_tensor_view out[4];
    if (per_sample == 6) {
        in.rank = 2;
        in.dims[1] = 6;
    } else {
        in.rank = 4;
        in.dims[1] = 1, in.dims[2] = 28, in.dims[3] = 28;
    }

    in.dims[0] = BATCH;
    assert_int_equal(tq_session_run(s, &in, 1, out, 1, &err), TQ_OK);
    int64_t n_out = 1;
    for (int d = 0; d < out[0].rank; d++)
        n_out *= out[0].dims[d];
    float *first = malloc(sizeof(float) * (size_t)n_out);
    memcpy(first, out[0].data, sizeof(float) * (size_t)n_out);
    size_t arena = tq_session_arena_bytes(s);
    assert_true(arena > 0);

    counting = 1;
    allocations = 0;
    for (int r = 0; r < 3; r++) {
        assert_int_equal(tq_session_run(s, &in, 1, out, 1, &err), TQ_OK);
        assert_memory_equal(out[0].data, first, sizeof(float) * (size_t)n_out);
    }
    counting = 0;
    assert_int_equal(allocations, 0);
    assert_int_equal(tq_session_arena_bytes(s), arena);

    in.dims[0] = 1; /* a new shape plans again (and the counter sees it)... */
    counting = 1;
    assert_int_equal(tq_session_run(s, &in, 1, out, 1, &err), TQ_OK);
    counting = 0;
    assert_true(allocations > 0);
    assert_int_equal(out[0].dims[0], 1);
    in.dims[0] = BATCH; /* ...and going back gives the first results again */
    assert_int_equal(tq_session_run(s, &in, 1, out, 1, &err), TQ_OK);
    assert_memory_equal(out[0].data, first, sizeof(float) * (size_t)n_out);

    free(first);
    free(x);
    tq_session_free(&s);
    tq_model_free(&m);
}

static void test_cnn_runs_without_allocating(void **state)
{
    (void)state;
    run_model("fixtures/cnn.onnx", "input", 28 * 28);
}

static void test_mlp_runs_without_allocating(void **state)
{
    (void)state;
    run_model("fixtures/mlp.onnx", "features", 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn_runs_without_allocating),
        cmocka_unit_test(test_mlp_runs_without_allocating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
