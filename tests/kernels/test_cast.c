/* Cast kernels (kernels/cast.h): the C references against the generic
 * per-element path they replace (ops_common's tq_load_f64 / tq_store_f64),
 * the AVX2 versions against the C references byte for byte, and the Cast op
 * against the generic path for every pair it sends to a kernel. Inputs mix
 * ordinary values with the edges: NaN, infinities, +-0, -2^31, 2^31, values
 * beyond int32 and int64, float-rounding int32s (above 2^24), every byte;
 * lengths 0..70 and one long run reach every tail and block size. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkasm.h"
#include "kernels/cast.h"
#include "kernels/cpu.h"
#include "../ops/op_harness.h"
#include "runtime/ops/ops_common.h"

enum { LONG_N = 1000 + 37 };

typedef struct pair {
    const char *name;
    size_t off; /* of the kernel in tq_cast_kernels */
    tq_dtype from, to;
} pair;

#define PAIR(f, a, b) { #f, offsetof(tq_cast_kernels, f), a, b }
static const pair pairs[] = {
    PAIR(i32_f32, TQ_INT32, TQ_FLOAT), PAIR(i8_f32, TQ_INT8, TQ_FLOAT),
    PAIR(u8_f32, TQ_UINT8, TQ_FLOAT),  PAIR(f32_i32, TQ_FLOAT, TQ_INT32),
    PAIR(f32_i8, TQ_FLOAT, TQ_INT8),   PAIR(f32_u8, TQ_FLOAT, TQ_UINT8),
    PAIR(f32_f64, TQ_FLOAT, TQ_DOUBLE), PAIR(f64_f32, TQ_DOUBLE, TQ_FLOAT),
};

static tq_cast_fn kernel_of(const tq_cast_kernels *k, const pair *p)
{
    return *(const tq_cast_fn *)((const char *)k + p->off);
}

static const float float_edges[] = {
    NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 0.5f, -0.5f, 0.99999994f, -1.5f, 127.9f,
    128.0f, 255.5f, 256.0f, -129.0f, 2147483520.0f, 2147483648.0f, -2147483648.0f,
    -2147483904.0f, 3.0e9f, -3.0e9f, 4294967296.0f, 1.0e12f, -1.0e12f,
    9223371487098961920.0f, 9223372036854775808.0f, -9223372036854775808.0f, 1.0e20f, 1e-40f,
    FLT_MAX, -FLT_MAX,
};

/* n inputs of type t: edge values in random places, the rest ordinary */
static void fill(tq_dtype t, void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rnd_u32();
        bool edge = r % 4 == 0;
        switch (t) {
        case TQ_FLOAT:
            ((float *)p)[i] = edge ? float_edges[(r >> 8) % (sizeof float_edges / sizeof(float))]
                                   : ldexpf(rnd_float(), (int)((r >> 8) % 34));
            break;
        case TQ_DOUBLE: {
            double v = edge ? (double)float_edges[(r >> 8) % (sizeof float_edges / sizeof(float))]
                            : (double)rnd_float() * 1e3;
            if (r % 16 == 1)
                v = 1e300 * (r & 32 ? 1 : -1); /* beyond float: infinity */
            if (r % 16 == 3)
                v = 1.0 + 1.0 / 16777216.0 + 1e-12; /* rounds */
            ((double *)p)[i] = v;
            break;
        }
        case TQ_INT32:
            ((int32_t *)p)[i] = edge ? (int32_t)rnd_u32() : (int32_t)(r >> 8) - (1 << 23) +
                                                               (r & 1 ? 16777217 : 0);
            if (r % 64 == 5)
                ((int32_t *)p)[i] = INT32_MIN;
            break;
        default: /* bytes */
            ((uint8_t *)p)[i] = (uint8_t)r;
        }
    }
}

/* what runtime/ops/cast.c did for every pair before the kernels */
static void generic(tq_dtype from, tq_dtype to, const void *x, void *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tq_store_f64(to, y, (int64_t)i, tq_load_f64(from, x, (int64_t)i));
}

static void *alloc_filled(size_t bytes, int byte)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    memset(p, byte, bytes);
    return p;
}

/* Byte-for-byte: fn (and ref, when not NULL) against the generic path, for
 * lengths 0..70 and LONG_N, with a guard byte area past the end. */
static void check_pair(const pair *p, tq_cast_fn fn, const char *what)
{
    size_t isz = tq_dtype_size(p->from), osz = tq_dtype_size(p->to);
    for (size_t n = 0; n <= 71; n++) {
        size_t len = n == 71 ? LONG_N : n;
        void *x = alloc_filled(len * isz, 0);
        void *want = alloc_filled(len * osz + 32, 0xA5), *got = alloc_filled(len * osz + 32, 0xA5);
        fill(p->from, x, len);
        generic(p->from, p->to, x, want, len);
        fn(x, got, len);
        if (memcmp(want, got, len * osz + 32) != 0) {
            size_t i = 0;
            while (i < len && memcmp((char *)want + i * osz, (char *)got + i * osz, osz) == 0)
                i++;
            fail_msg("%s %s: n=%zu differs at element %zu%s", what, p->name, len, i,
                     i == len ? " (wrote past the end)" : "");
        }
        free(x);
        free(want);
        free(got);
    }
}

static void test_c_matches_generic(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        check_pair(&pairs[i], kernel_of(&tq_cast_c, &pairs[i]), "C");
}

static void test_avx2_matches_c(void **st)
{
    (void)st;
#if defined(TQ_HAVE_AVX2)
    if (!(tq_cpu_flags() & TQ_CPU_FLAG_AVX2)) {
        skip();
        return;
    }
    /* the C versions equal the generic path (above), so equality with it
     * is equality with them */
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        check_pair(&pairs[i], kernel_of(&tq_cast_avx2, &pairs[i]), "AVX2");
#else
    skip();
#endif
}

/* The op picks the right kernel for each pair (a swapped entry would show). */
static void test_cast_op(void **st)
{
    (void)st;
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        const pair *p = &pairs[k];
        size_t isz = tq_dtype_size(p->from), osz = tq_dtype_size(p->to);
        int64_t dims[2] = { 3, 77 };
        size_t n = 3 * 77;
        void *x = alloc_filled(n * isz, 0), *want = alloc_filled(n * osz, 0);
        fill(p->from, x, n);
        generic(p->from, p->to, x, want, n);
        op_run r;
        assert_int_equal(run_init(&r, "Cast", 13, 1), TQ_OK);
        tq_attr *to = tq_node_add_attr(r.node, "to", TQ_ATTR_INT);
        assert_non_null(to);
        to->i = p->to;
        assert_int_equal(run_input(&r, "x", p->from, 2, dims, x, false), TQ_OK);
        if (run_exec(&r))
            fail_msg("Cast %s: %s", p->name, r.err.msg);
        assert_int_equal(r.out[0]->dtype, p->to);
        if (memcmp(r.out[0]->data, want, n * osz) != 0)
            fail_msg("Cast op %s differs from the generic path", p->name);
        run_free(&r);
        free(x);
        free(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_matches_generic),
        cmocka_unit_test(test_avx2_matches_c),
        cmocka_unit_test(test_cast_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
