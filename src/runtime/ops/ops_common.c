/* Helpers shared by the light op families: dtype-generic element access,
 * axis normalisation, the broadcast iterator and the float unary driver. */
#include "runtime/ops/ops_common.h"

#include <math.h>
#include <string.h>

int tq_axis_norm(tq_op_ctx *c, int64_t axis, int rank, bool allow_end, int *out)
{
    int64_t hi = allow_end ? rank : rank - 1;
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a > hi)
        return tq_op_fail(c, TQ_EFORMAT, "axis %lld is out of range for rank %d",
                          (long long)axis, rank);
    *out = (int)a;
    return TQ_OK;
}

bool tq_dtype_is_float(tq_dtype t)
{
    return t == TQ_FLOAT || t == TQ_FLOAT16 || t == TQ_DOUBLE;
}

bool tq_dtype_is_numeric(tq_dtype t)
{
    switch (t) {
    case TQ_FLOAT: case TQ_FLOAT16: case TQ_DOUBLE: case TQ_INT8: case TQ_UINT8:
    case TQ_INT16: case TQ_UINT16: case TQ_INT32: case TQ_UINT32: case TQ_INT64:
    case TQ_UINT64:
        return true;
    default:
        return false;
    }
}

double tq_load_f64(tq_dtype t, const void *data, int64_t i)
{
    switch (t) {
    case TQ_FLOAT: return ((const float *)data)[i];
    case TQ_FLOAT16: return tq_half_to_float(((const uint16_t *)data)[i]);
    case TQ_DOUBLE: return ((const double *)data)[i];
    case TQ_INT8: return ((const int8_t *)data)[i];
    case TQ_UINT8: return ((const uint8_t *)data)[i];
    case TQ_BOOL: return ((const uint8_t *)data)[i] != 0;
    case TQ_INT16: return ((const int16_t *)data)[i];
    case TQ_UINT16: return ((const uint16_t *)data)[i];
    case TQ_INT32: return ((const int32_t *)data)[i];
    case TQ_UINT32: return ((const uint32_t *)data)[i];
    case TQ_INT64: return (double)((const int64_t *)data)[i];
    case TQ_UINT64: return (double)((const uint64_t *)data)[i];
    default: return 0;
    }
}

int64_t tq_f64_to_i64(double v)
{
    /* C leaves out-of-range float->int conversion undefined; pin NaN and
     * overflow to INT64_MIN (what x86 cvttsd2si yields) instead. */
    if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)v;
}

void tq_store_f64(tq_dtype t, void *data, int64_t i, double v)
{
    switch (t) {
    case TQ_FLOAT: ((float *)data)[i] = (float)v; return;
    case TQ_FLOAT16: ((uint16_t *)data)[i] = tq_float_to_half((float)v); return;
    case TQ_DOUBLE: ((double *)data)[i] = v; return;
    case TQ_BOOL: ((uint8_t *)data)[i] = v != 0; return;
    default: break;
    }
    /* Integers: truncate toward zero, then wrap to the target width. */
    uint64_t u = (uint64_t)tq_f64_to_i64(v);
    switch (t) {
    case TQ_INT8: ((int8_t *)data)[i] = (int8_t)u; return;
    case TQ_UINT8: ((uint8_t *)data)[i] = (uint8_t)u; return;
    case TQ_INT16: ((int16_t *)data)[i] = (int16_t)u; return;
    case TQ_UINT16: ((uint16_t *)data)[i] = (uint16_t)u; return;
    case TQ_INT32: ((int32_t *)data)[i] = (int32_t)u; return;
    case TQ_UINT32: ((uint32_t *)data)[i] = (uint32_t)u; return;
    case TQ_INT64: ((int64_t *)data)[i] = (int64_t)u; return;
    case TQ_UINT64:
        ((uint64_t *)data)[i] = v >= 9223372036854775808.0 && v < 18446744073709551616.0
                                    ? (uint64_t)v
                                    : u;
        return;
    default: return;
    }
}

void tq_bcast_plan(const tq_value *a, const tq_value *b, const tq_value *out, tq_bcast *p)
{
    int r = out->rank;
    int64_t sa_full[TQ_MAX_RANK], sb_full[TQ_MAX_RANK];
    int64_t ra = 1, rb = 1;
    for (int i = r - 1; i >= 0; i--) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        sa_full[i] = da == 1 ? 0 : ra;
        sb_full[i] = db == 1 ? 0 : rb;
        ra *= da;
        rb *= db;
    }
    p->rank = 0;
    for (int i = 0; i < r; i++) {
        if (out->dims[i] == 1)
            continue;
        int k = p->rank;
        /* Merge into the previous kept dim when both inputs continue
         * contiguously (or both stay broadcast) across the boundary. */
        if (k > 0 && p->sa[k - 1] == sa_full[i] * out->dims[i] &&
            p->sb[k - 1] == sb_full[i] * out->dims[i]) {
            p->dims[k - 1] *= out->dims[i];
            p->sa[k - 1] = sa_full[i];
            p->sb[k - 1] = sb_full[i];
            continue;
        }
        p->dims[k] = out->dims[i];
        p->sa[k] = sa_full[i];
        p->sb[k] = sb_full[i];
        p->rank++;
    }
    if (p->rank == 0) { /* scalar output */
        p->rank = 1;
        p->dims[0] = 1;
        p->sa[0] = p->sb[0] = 0;
    }
}

void tq_bcast_run(const tq_bcast *p, tq_bin_fn fn, const void *a, size_t esa, const void *b,
                  size_t esb, void *o, size_t eso, const void *user)
{
    int last = p->rank - 1;
    int64_t n = p->dims[last];
    for (int i = 0; i < p->rank; i++)
        if (p->dims[i] == 0)
            return;
    int64_t outer = 1;
    for (int i = 0; i < last; i++)
        outer *= p->dims[i];
    int64_t idx[TQ_MAX_RANK] = {0};
    int64_t off_a = 0, off_b = 0;
    const char *pa = a, *pb = b;
    char *po = o;
    for (int64_t k = 0; k < outer; k++) {
        fn(pa + off_a * (int64_t)esa, p->sa[last], pb + off_b * (int64_t)esb, p->sb[last],
           po + k * n * (int64_t)eso, n, user);
        /* Odometer increment over the outer dims. */
        for (int d = last - 1; d >= 0; d--) {
            off_a += p->sa[d];
            off_b += p->sb[d];
            if (++idx[d] < p->dims[d])
                break;
            off_a -= p->sa[d] * p->dims[d];
            off_b -= p->sb[d] * p->dims[d];
            idx[d] = 0;
        }
    }
}

int tq_unary_float_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    if (x->dtype != TQ_FLOAT && x->dtype != TQ_FLOAT16)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "input '%s' has type %s; float32 or float16 expected",
                          x->name, tq_dtype_name(x->dtype));
    tq_value_set_shape(c->out[0], x->dtype, x->rank, x->dims);
    return TQ_OK;
}

int tq_unary_float_eval(tq_op_ctx *c, tq_unary_f32_fn fn, const float *p)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    int64_t n = tq_value_numel(x);
    if (x->dtype == TQ_FLOAT) {
        fn(x->data, y->data, n, p);
        return TQ_OK;
    }
    /* float16: convert in stack chunks so eval needs no scratch. */
    enum { CHUNK = 256 };
    float buf[CHUNK];
    const uint16_t *xs = x->data;
    uint16_t *ys = y->data;
    for (int64_t i = 0; i < n; i += CHUNK) {
        int64_t m = n - i < CHUNK ? n - i : CHUNK;
        for (int64_t j = 0; j < m; j++)
            buf[j] = tq_half_to_float(xs[i + j]);
        fn(buf, buf, m, p);
        for (int64_t j = 0; j < m; j++)
            ys[i + j] = tq_float_to_half(buf[j]);
    }
    return TQ_OK;
}

void tq_copy_through(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    size_t bytes = (size_t)tq_value_numel(y) * tq_dtype_size(y->dtype);
    if (bytes && y->data != x->data)
        memcpy(y->data, x->data, bytes);
}
