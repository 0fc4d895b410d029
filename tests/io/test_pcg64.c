/* PCG64/SeedSequence against numpy itself: the same operation script is run
 * through numpy (numpy_rng_ref.py) and through tq_pcg64, and every draw must
 * be bit-identical. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io_test_util.h"
#include "util/pcg64.h"

typedef struct strbuf {
    char *s;
    size_t n, cap;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = b->cap * 2 + (size_t)k + 64;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
}

/* Execute the script with tq_pcg64, producing numpy_rng_ref.py's output format. */
static char *run_ours(const char *script)
{
    strbuf b = {malloc(256), 0, 256};
    assert_non_null(b.s);
    b.s[0] = '\0';
    char *copy = strdup(script), *save = NULL;
    tq_pcg64 rng;
    memset(&rng, 0, sizeof rng);
    for (char *op = strtok_r(copy, ";", &save); op; op = strtok_r(NULL, ";", &save)) {
        char kind[8];
        if (sscanf(op, " %7s", kind) != 1)
            continue;
        sb_printf(&b, "%s", kind);
        if (!strcmp(kind, "seed")) {
            unsigned long long s;
            assert_int_equal(sscanf(op, " seed %llu", &s), 1);
            tq_pcg64_seed(&rng, s);
            sb_printf(&b, " %llu", s);
        } else if (!strcmp(kind, "f32")) {
            char shape[64];
            assert_int_equal(sscanf(op, " f32 %63s", shape), 1);
            size_t n = 1;
            for (char *p = shape; *p;) {
                n *= strtoul(p, &p, 10);
                if (*p == 'x')
                    p++;
            }
            float *v = malloc(n * sizeof *v + 1);
            tq_pcg64_fill_float(&rng, v, n);
            for (size_t i = 0; i < n; i++) {
                uint32_t bits;
                memcpy(&bits, &v[i], 4);
                sb_printf(&b, " %" PRIu32, bits);
            }
            free(v);
        } else if (!strcmp(kind, "f64")) {
            int n;
            assert_int_equal(sscanf(op, " f64 %d", &n), 1);
            for (int i = 0; i < n; i++) {
                double d = tq_pcg64_random_double(&rng);
                uint64_t bits;
                memcpy(&bits, &d, 8);
                sb_printf(&b, " %" PRIu64, bits);
            }
        } else if (!strcmp(kind, "int")) {
            long long lo, hi;
            int n;
            assert_int_equal(sscanf(op, " int %lld %lld %d", &lo, &hi, &n), 3);
            for (int i = 0; i < n; i++)
                sb_printf(&b, " %" PRId64, tq_pcg64_integers(&rng, lo, hi));
        } else if (!strcmp(kind, "raw")) {
            int n;
            assert_int_equal(sscanf(op, " raw %d", &n), 1);
            for (int i = 0; i < n; i++)
                sb_printf(&b, " %" PRIu64, tq_pcg64_next64(&rng));
        } else if (!strcmp(kind, "perm")) {
            int n;
            assert_int_equal(sscanf(op, " perm %d", &n), 1);
            int64_t *p = malloc((size_t)n * sizeof *p + 1);
            tq_pcg64_permutation(&rng, p, (size_t)n);
            for (int i = 0; i < n; i++)
                sb_printf(&b, " %" PRId64, p[i]);
            free(p);
        } else if (!strcmp(kind, "ss")) {
            int n, ne = 0;
            char list[256];
            assert_int_equal(sscanf(op, " ss %d %255s", &n, list), 2);
            uint32_t ent[32], out[64];
            for (char *p = list; *p && ne < 32;) {
                ent[ne++] = (uint32_t)strtoul(p, &p, 10);
                if (*p == ',')
                    p++;
            }
            assert_true(n <= 64);
            tq_seed_sequence_generate(ent, ne, out, n);
            for (int i = 0; i < n; i++)
                sb_printf(&b, " %" PRIu32, out[i]);
        } else {
            fail_msg("unknown op %s", op);
        }
        sb_printf(&b, "\n");
    }
    free(copy);
    return b.s;
}

static void check_against_numpy(const char *script)
{
    if (!have_numpy())
        skip();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, TQ_TEST_PYTHON " '%s/tests/io/numpy_rng_ref.py' '%s'",
             source_root(), script);
    int status;
    char *ref = run_capture(cmd, &status);
    assert_non_null(ref);
    assert_int_equal(status, 0);
    assert_true(strlen(ref) > 0);
    char *ours = run_ours(script);
    /* Compare line by line so a failure names the operation that diverged. */
    char *rs = NULL, *os = NULL;
    char *rl = strtok_r(ref, "\n", &rs), *ol = strtok_r(ours, "\n", &os);
    int line = 0;
    while (rl || ol) {
        line++;
        if (!rl || !ol || strcmp(rl, ol) != 0)
            fail_msg("script '%s' line %d:\n numpy: %.300s\n ours:  %.300s", script, line,
                     rl ? rl : "(none)", ol ? ol : "(none)");
        rl = strtok_r(NULL, "\n", &rs);
        ol = strtok_r(NULL, "\n", &os);
    }
    free(ref);
    free(ours);
}

/* The gate's synthetic set: default_rng(0), 16 samples of rng.random(shape, float32). */
static void test_gate_synthetic_set(void **state)
{
    (void)state;
    check_against_numpy("seed 0; f32 16; f32 1x3x8x8; f32 1x6; f32 1x1x5x7");
    check_against_numpy("seed 0; f32 1x3x4x4; f32 1x3x4x4; f32 1x3x4x4; f32 1x3x4x4;"
                        "f32 1x3x4x4; f32 1x3x4x4; f32 1x3x4x4; f32 1x3x4x4;"
                        "f32 1x3x4x4; f32 1x3x4x4; f32 1x3x4x4; f32 1x3x4x4;"
                        "f32 1x3x4x4; f32 1x3x4x4; f32 1x3x4x4; f32 1x3x4x4");
}

static void test_float32_seeds(void **state)
{
    (void)state;
    check_against_numpy("seed 1; f32 16; f32 3x5; seed 12345; f32 16; f32 2x3x4x5;"
                        "seed 4294967295; f32 9; seed 4294967296; f32 9;"
                        "seed 1099511627781; f32 33");
}

/* Odd float32 counts leave half a 64-bit draw buffered: float64 and raw draws
 * must bypass that buffer and the next float32 must still use it. */
static void test_interleaved_draws(void **state)
{
    (void)state;
    check_against_numpy("seed 0; f32 3; f64 2; f32 1; f32 2; raw 2; f32 5; f64 1; f32 1");
    check_against_numpy("seed 12345; raw 4; f64 7; f32 7; raw 1; f32 1; f64 3");
}

static void test_integers_and_permutation(void **state)
{
    (void)state;
    check_against_numpy("seed 7; int -3 1000 20; f32 1; int 0 1099511627776 10;"
                        "int 5 6 3; int 0 2 15; int -9223372036854775807 9223372036854775807 4;"
                        "int 0 4294967296 5; int 0 4294967295 5; f32 3");
    check_against_numpy("seed 5; perm 10; perm 1; perm 0; f32 1; perm 1000; seed 3; int 0 3 5; perm 17");
}

static void test_seed_sequence(void **state)
{
    (void)state;
    /* more entropy words than the pool exercises the extra mixing rounds */
    check_against_numpy("ss 8 0; ss 4 12345; ss 8 1,2,3,4,5,6; ss 12 4294967295,7; ss 3 9,8,7,6,5,4,3,2,1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate_synthetic_set),
        cmocka_unit_test(test_float32_seeds),
        cmocka_unit_test(test_interleaved_draws),
        cmocka_unit_test(test_integers_and_permutation),
        cmocka_unit_test(test_seed_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
