/* Cast between float32/float16/double, the integer types and bool. The
 * common numeric pairs take kernels/cast.h's loops (same results).
 * Float -> integer truncates toward zero (ONNX Cast); out-of-range values
 * wrap instead of invoking C undefined behaviour. Integer -> integer goes
 * through int64 so large int64 values keep every bit. */
#include <string.h>

#include "kernels/cast.h"
#include "runtime/ops/ops_common.h"

static bool castable(tq_dtype t)
{
    return tq_dtype_is_numeric(t) || t == TQ_BOOL;
}

static int cast_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    const tq_attr *to = tq_node_attr(c->node, "to");
    if (!to || to->type != TQ_ATTR_INT)
        return tq_op_fail(c, TQ_EFORMAT, "needs an integer 'to' attribute");
    tq_dtype dt = (tq_dtype)to->i;
    if (!castable(x->dtype) || to->i < 0 || to->i > TQ_UINT64 || !castable(dt))
        return tq_op_fail(c, TQ_EUNSUPPORTED, "cast from %s to type %lld is not supported",
                          tq_dtype_name(x->dtype), (long long)to->i);
    tq_value_set_shape(c->out[0], dt, x->rank, x->dims);
    return TQ_OK;
}

static bool is_integral(tq_dtype t)
{
    return t != TQ_FLOAT && t != TQ_FLOAT16 && t != TQ_DOUBLE;
}

static int64_t load_i64(tq_dtype t, const void *p, int64_t i)
{
    switch (t) {
    case TQ_INT64: return ((const int64_t *)p)[i];
    case TQ_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case TQ_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return (int64_t)tq_load_f64(t, p, i); /* exact for <= 32-bit ints */
    }
}

static void store_i64(tq_dtype t, void *p, int64_t i, int64_t v)
{
    switch (t) {
    case TQ_INT8: ((int8_t *)p)[i] = (int8_t)v; return;
    case TQ_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; return;
    case TQ_BOOL: ((uint8_t *)p)[i] = v != 0; return;
    case TQ_INT16: ((int16_t *)p)[i] = (int16_t)v; return;
    case TQ_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; return;
    case TQ_INT32: ((int32_t *)p)[i] = (int32_t)v; return;
    case TQ_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; return;
    case TQ_INT64: ((int64_t *)p)[i] = v; return;
    case TQ_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; return;
    default: return;
    }
}

/* The kernels/cast.h loop for a pair, or NULL (the generic paths below). */
static tq_cast_fn fast_cast(tq_dtype from, tq_dtype to)
{
    const tq_cast_kernels *k = tq_cast_get();
    if (to == TQ_FLOAT)
        switch (from) {
        case TQ_INT32: return k->i32_f32;
        case TQ_INT8: return k->i8_f32;
        case TQ_UINT8: return k->u8_f32;
        case TQ_DOUBLE: return k->f64_f32;
        default: return NULL;
        }
    if (from == TQ_FLOAT)
        switch (to) {
        case TQ_INT32: return k->f32_i32;
        case TQ_INT8: return k->f32_i8;
        case TQ_UINT8: return k->f32_u8;
        case TQ_DOUBLE: return k->f32_f64;
        default: return NULL;
        }
    return NULL;
}

static int cast_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    int64_t n = tq_value_numel(x);
    tq_dtype from = x->dtype, to = y->dtype;
    if (from == to) {
        tq_copy_through(c);
        return TQ_OK;
    }
    tq_cast_fn fn = fast_cast(from, to);
    if (fn) {
        fn(x->data, y->data, (size_t)n);
        return TQ_OK;
    }
    if (from == TQ_FLOAT && to == TQ_FLOAT16) {
        const float *a = x->data;
        uint16_t *b = y->data;
        for (int64_t i = 0; i < n; i++)
            b[i] = tq_float_to_half(a[i]);
    } else if (from == TQ_FLOAT16 && to == TQ_FLOAT) {
        const uint16_t *a = x->data;
        float *b = y->data;
        for (int64_t i = 0; i < n; i++)
            b[i] = tq_half_to_float(a[i]);
    } else if (is_integral(from) && is_integral(to)) {
        for (int64_t i = 0; i < n; i++)
            store_i64(to, y->data, i, load_i64(from, x->data, i));
    } else if (from == TQ_INT64 || from == TQ_UINT64) {
        /* int64 -> float: convert directly so rounding happens once. */
        for (int64_t i = 0; i < n; i++) {
            double v = from == TQ_INT64 ? (double)((const int64_t *)x->data)[i]
                                        : (double)((const uint64_t *)x->data)[i];
            if (to == TQ_FLOAT)
                ((float *)y->data)[i] = from == TQ_INT64
                                            ? (float)((const int64_t *)x->data)[i]
                                            : (float)((const uint64_t *)x->data)[i];
            else
                tq_store_f64(to, y->data, i, v);
        }
    } else {
        for (int64_t i = 0; i < n; i++)
            tq_store_f64(to, y->data, i, tq_load_f64(from, x->data, i));
    }
    return TQ_OK;
}

const tq_op_def tq_op_cast = { "", "Cast", cast_prepare, cast_eval, NULL };
