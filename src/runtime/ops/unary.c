/* Unary math ops: Sqrt, Erf, Exp, Log, Reciprocal, Floor, Ceil (float32 and
 * float16) and Neg, Abs (also signed/unsigned integers and double). */
#include <math.h>
#include <stdlib.h>

#include "runtime/ops/ops_common.h"

#define DEF_KERNEL(NAME, EXPR)                                                             \
    static void NAME##_f32(const float *x, float *y, int64_t n, const float *p)            \
    {                                                                                      \
        (void)p;                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                  \
            float v = x[i];                                                                \
            y[i] = (EXPR);                                                                 \
        }                                                                                  \
    }
#define DEF_MAP(NAME, EXPR)                                                                \
    DEF_KERNEL(NAME, EXPR)                                                                 \
    static int NAME##_eval(tq_op_ctx *c) { return tq_unary_float_eval(c, NAME##_f32, NULL); }

DEF_MAP(sqrt, sqrtf(v))
DEF_MAP(erf, erff(v))
DEF_MAP(exp, expf(v))
DEF_MAP(log, logf(v))
DEF_MAP(reciprocal, 1.0f / v)
DEF_MAP(floor, floorf(v))
DEF_MAP(ceil, ceilf(v))
DEF_KERNEL(neg, -v)
DEF_KERNEL(abs, fabsf(v))

const tq_op_def tq_op_sqrt = { "", "Sqrt", tq_unary_float_prepare, sqrt_eval, NULL };
const tq_op_def tq_op_erf = { "", "Erf", tq_unary_float_prepare, erf_eval, NULL };
const tq_op_def tq_op_exp = { "", "Exp", tq_unary_float_prepare, exp_eval, NULL };
const tq_op_def tq_op_log = { "", "Log", tq_unary_float_prepare, log_eval, NULL };
const tq_op_def tq_op_reciprocal = { "", "Reciprocal", tq_unary_float_prepare, reciprocal_eval,
                                     NULL };
const tq_op_def tq_op_floor = { "", "Floor", tq_unary_float_prepare, floor_eval, NULL };
const tq_op_def tq_op_ceil = { "", "Ceil", tq_unary_float_prepare, ceil_eval, NULL };

/* Neg and Abs also take integers (ONNX lists the signed ones for Neg and
 * every numeric type for Abs); integer negation wraps rather than being
 * undefined for the most negative value. */
static int sign_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    if (!tq_dtype_is_numeric(x->dtype))
        return tq_op_fail(c, TQ_EUNSUPPORTED, "input '%s' has unsupported type %s", x->name,
                          tq_dtype_name(x->dtype));
    bool is_unsigned = x->dtype == TQ_UINT8 || x->dtype == TQ_UINT16 ||
                       x->dtype == TQ_UINT32 || x->dtype == TQ_UINT64;
    if (is_unsigned && c->node->op_type[0] == 'N')
        return tq_op_fail(c, TQ_EUNSUPPORTED, "Neg of unsigned type %s",
                          tq_dtype_name(x->dtype));
    tq_value_set_shape(c->out[0], x->dtype, x->rank, x->dims);
    return TQ_OK;
}

#define INT_CASE(DT, T, UT, EXPR)                                                          \
    case DT: {                                                                             \
        const T *a = x->data;                                                              \
        T *b = y->data;                                                                    \
        for (int64_t i = 0; i < n; i++) {                                                  \
            T v = a[i];                                                                    \
            b[i] = (T)(EXPR);                                                              \
        }                                                                                  \
        return TQ_OK;                                                                      \
    }

static int neg_abs_eval(tq_op_ctx *c, bool is_abs)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    int64_t n = tq_value_numel(x);
    if (x->dtype == TQ_FLOAT || x->dtype == TQ_FLOAT16)
        return tq_unary_float_eval(c, is_abs ? abs_f32 : neg_f32, NULL);
    if (is_abs) {
        switch (x->dtype) {
        INT_CASE(TQ_INT8, int8_t, uint32_t, v < 0 ? 0 - (uint32_t)v : (uint32_t)v)
        INT_CASE(TQ_INT16, int16_t, uint32_t, v < 0 ? 0 - (uint32_t)v : (uint32_t)v)
        INT_CASE(TQ_INT32, int32_t, uint32_t, v < 0 ? 0 - (uint32_t)v : (uint32_t)v)
        INT_CASE(TQ_INT64, int64_t, uint64_t, v < 0 ? 0 - (uint64_t)v : (uint64_t)v)
        INT_CASE(TQ_DOUBLE, double, double, fabs(v))
        default: break; /* unsigned: identity */
        }
        tq_copy_through(c);
        return TQ_OK;
    }
    {
        switch (x->dtype) {
        INT_CASE(TQ_INT8, int8_t, uint32_t, 0 - (uint32_t)v)
        INT_CASE(TQ_INT16, int16_t, uint32_t, 0 - (uint32_t)v)
        INT_CASE(TQ_INT32, int32_t, uint32_t, 0 - (uint32_t)v)
        INT_CASE(TQ_INT64, int64_t, uint64_t, 0 - (uint64_t)v)
        INT_CASE(TQ_DOUBLE, double, double, -v)
        default: break; /* rejected in prepare */
        }
    }
    return TQ_OK;
}

static int neg_eval(tq_op_ctx *c) { return neg_abs_eval(c, false); }
static int abs_eval(tq_op_ctx *c) { return neg_abs_eval(c, true); }

const tq_op_def tq_op_neg = { "", "Neg", sign_prepare, neg_eval, NULL };
const tq_op_def tq_op_abs = { "", "Abs", sign_prepare, abs_eval, NULL };
