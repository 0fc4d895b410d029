/* Binary arithmetic with numpy broadcasting: Add, Sub, Mul, Div, Pow.
 * Kernels are generated per dtype; the broadcast iterator (ops_common.c)
 * reduces every case to a contiguous inner loop where each input is either
 * a vector or a scalar, which covers the hot cases (same shape, scalar,
 * per-channel bias) with one vectorisable loop each. */
#include <math.h>

#include "runtime/ops/ops_common.h"

/* T: storage type, CT: compute type, IN/OUT: conversions between them. */
#define DEF_BIN(NAME, T, CT, IN, OUT, EXPR)                                                \
    static void NAME(const void *pa, int64_t sa, const void *pb, int64_t sb, void *po,     \
                     int64_t n, const void *user)                                          \
    {                                                                                      \
        const T *a = pa, *b = pb;                                                          \
        T *o = po;                                                                         \
        (void)user;                                                                        \
        /* One loop per broadcast pattern so the compiler vectorises each. */              \
        if (sa && sb) {                                                                    \
            for (int64_t i = 0; i < n; i++) {                                              \
                CT x = IN(a[i]), y = IN(b[i]);                                             \
                o[i] = OUT(EXPR);                                                          \
            }                                                                              \
        } else if (sa) {                                                                   \
            CT y = IN(b[0]);                                                               \
            for (int64_t i = 0; i < n; i++) {                                              \
                CT x = IN(a[i]);                                                           \
                o[i] = OUT(EXPR);                                                          \
            }                                                                              \
        } else if (sb) {                                                                   \
            CT x = IN(a[0]);                                                               \
            for (int64_t i = 0; i < n; i++) {                                              \
                CT y = IN(b[i]);                                                           \
                o[i] = OUT(EXPR);                                                          \
            }                                                                              \
        } else {                                                                           \
            CT x = IN(a[0]), y = IN(b[0]);                                                 \
            T r = OUT(EXPR);                                                               \
            for (int64_t i = 0; i < n; i++)                                                \
                o[i] = r;                                                                  \
        }                                                                                  \
    }

#define SAME(v) (v)
#define HALF_IN(v) tq_half_to_float(v)
#define HALF_OUT(v) tq_float_to_half(v)

/* Float types: IEEE semantics (division by zero gives inf/nan). */
#define DEF_FLOAT_SET(SFX, T, CT, IN, OUT)                                                 \
    DEF_BIN(add_##SFX, T, CT, IN, OUT, x + y)                                              \
    DEF_BIN(sub_##SFX, T, CT, IN, OUT, x - y)                                              \
    DEF_BIN(mul_##SFX, T, CT, IN, OUT, x * y)                                              \
    DEF_BIN(div_##SFX, T, CT, IN, OUT, x / y)

/* Integers: arithmetic through the unsigned type UT so overflow wraps
 * instead of being undefined; division truncates, and the cases C leaves
 * undefined (x / 0, INT_MIN / -1) give 0 and the wrapped negation. */
#define DEF_INT_SET(SFX, T, UT, IS_SIGNED)                                                 \
    DEF_BIN(add_##SFX, T, T, SAME, SAME, (T)((UT)x + (UT)y))                               \
    DEF_BIN(sub_##SFX, T, T, SAME, SAME, (T)((UT)x - (UT)y))                               \
    DEF_BIN(mul_##SFX, T, T, SAME, SAME, (T)((UT)x * (UT)y))                               \
    DEF_BIN(div_##SFX, T, T, SAME, SAME,                                                   \
            (T)(y == 0 ? 0 : (IS_SIGNED && y == (T)-1) ? (T)(0 - (UT)x) : x / y))

DEF_FLOAT_SET(f32, float, float, SAME, SAME)
DEF_FLOAT_SET(f64, double, double, SAME, SAME)
DEF_FLOAT_SET(f16, uint16_t, float, HALF_IN, HALF_OUT)
DEF_INT_SET(i8, int8_t, uint32_t, 1)
DEF_INT_SET(u8, uint8_t, uint32_t, 0)
DEF_INT_SET(i16, int16_t, uint32_t, 1)
DEF_INT_SET(u16, uint16_t, uint32_t, 0)
DEF_INT_SET(i32, int32_t, uint32_t, 1)
DEF_INT_SET(u32, uint32_t, uint32_t, 0)
DEF_INT_SET(i64, int64_t, uint64_t, 1)
DEF_INT_SET(u64, uint64_t, uint64_t, 0)
DEF_BIN(pow_f32, float, float, SAME, SAME, powf(x, y))

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW };

typedef struct bin_table {
    tq_dtype dtype;
    tq_bin_fn fn[4]; /* add, sub, mul, div */
} bin_table;

#define ROW(DT, SFX) { DT, { add_##SFX, sub_##SFX, mul_##SFX, div_##SFX } }
static const bin_table tables[] = {
    ROW(TQ_FLOAT, f32), ROW(TQ_FLOAT16, f16), ROW(TQ_DOUBLE, f64),
    ROW(TQ_INT8, i8),   ROW(TQ_UINT8, u8),    ROW(TQ_INT16, i16),
    ROW(TQ_UINT16, u16), ROW(TQ_INT32, i32),  ROW(TQ_UINT32, u32),
    ROW(TQ_INT64, i64), ROW(TQ_UINT64, u64),
};

static tq_bin_fn find_kernel(int op, tq_dtype t)
{
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (tables[i].dtype == t)
            return tables[i].fn[op];
    return NULL;
}

/* Pow with mixed types (ONNX allows e.g. int32 base, float exponent): both
 * read as double, result stored in the base type (truncating for ints). */
typedef struct pow_types {
    tq_dtype ta, tb;
} pow_types;

static void pow_generic(const void *a, int64_t sa, const void *b, int64_t sb, void *o,
                        int64_t n, const void *user)
{
    const pow_types *t = user;
    for (int64_t i = 0; i < n; i++)
        tq_store_f64(t->ta, o, i, pow(tq_load_f64(t->ta, a, i * sa), tq_load_f64(t->tb, b, i * sb)));
}

static int binary_prepare(tq_op_ctx *c, int op)
{
    int rc = tq_op_check_arity(c, 2, 2);
    if (rc)
        return rc;
    const tq_value *a = c->in[0], *b = c->in[1];
    if (op == OP_POW) {
        if (!tq_dtype_is_numeric(a->dtype) || !tq_dtype_is_numeric(b->dtype))
            return tq_op_fail(c, TQ_EUNSUPPORTED, "unsupported input types %s and %s",
                              tq_dtype_name(a->dtype), tq_dtype_name(b->dtype));
    } else {
        if (a->dtype != b->dtype)
            return tq_op_fail(c, TQ_EFORMAT, "inputs '%s' (%s) and '%s' (%s) differ in type",
                              a->name, tq_dtype_name(a->dtype), b->name,
                              tq_dtype_name(b->dtype));
        if (!find_kernel(op, a->dtype))
            return tq_op_fail(c, TQ_EUNSUPPORTED, "unsupported input type %s",
                              tq_dtype_name(a->dtype));
    }
    int rank;
    int64_t dims[TQ_MAX_RANK];
    rc = tq_broadcast_shape(c, a, b, &rank, dims);
    if (rc)
        return rc;
    tq_value_set_shape(c->out[0], a->dtype, rank, dims);
    return TQ_OK;
}

static int binary_eval(tq_op_ctx *c, int op)
{
    const tq_value *a = c->in[0], *b = c->in[1];
    tq_value *o = c->out[0];
    tq_bcast plan;
    tq_bcast_plan(a, b, o, &plan);
    pow_types types = { a->dtype, b->dtype };
    tq_bin_fn fn;
    if (op != OP_POW)
        fn = find_kernel(op, a->dtype);
    else if (a->dtype == TQ_FLOAT && b->dtype == TQ_FLOAT)
        fn = pow_f32;
    else
        fn = pow_generic;
    tq_bcast_run(&plan, fn, a->data, tq_dtype_size(a->dtype), b->data, tq_dtype_size(b->dtype),
                 o->data, tq_dtype_size(o->dtype), &types);
    return TQ_OK;
}

#define DEF_OP(NAME, OP)                                                                   \
    static int NAME##_prepare(tq_op_ctx *c) { return binary_prepare(c, OP); }              \
    static int NAME##_eval(tq_op_ctx *c) { return binary_eval(c, OP); }                    \
    static const tq_op_def NAME##_def = { "", #NAME, NAME##_prepare, NAME##_eval, NULL };

DEF_OP(Add, OP_ADD)
DEF_OP(Sub, OP_SUB)
DEF_OP(Mul, OP_MUL)
DEF_OP(Div, OP_DIV)
DEF_OP(Pow, OP_POW)

const tq_op_def *const tq_ops_elementwise[] = {
    &Add_def, &Sub_def, &Mul_def, &Div_def, &Pow_def,
    &tq_op_sqrt, &tq_op_erf, &tq_op_neg, &tq_op_abs, &tq_op_exp, &tq_op_log,
    &tq_op_reciprocal, &tq_op_floor, &tq_op_ceil, NULL,
};
