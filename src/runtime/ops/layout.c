/* Ops that move data between layouts without arithmetic: Transpose,
 * Concat, Gather. All work on raw elements of any fixed-size dtype. */
#include <string.h>

#include "runtime/ops/ops_common.h"

/* ---- Transpose */

static int read_perm(tq_op_ctx *c, int *perm)
{
    const tq_value *x = c->in[0];
    const tq_attr *a = tq_node_attr(c->node, "perm");
    if (!a) {
        for (int i = 0; i < x->rank; i++)
            perm[i] = x->rank - 1 - i;
        return TQ_OK;
    }
    if (a->type != TQ_ATTR_INTS || a->n != x->rank)
        return tq_op_fail(c, TQ_EFORMAT, "perm must list %d axes", x->rank);
    bool seen[TQ_MAX_RANK] = { false };
    for (int i = 0; i < a->n; i++) {
        int p;
        if (tq_axis_norm(c, a->ints[i], x->rank, false, &p))
            return TQ_EFORMAT;
        if (seen[p])
            return tq_op_fail(c, TQ_EFORMAT, "perm repeats axis %d", p);
        seen[p] = true;
        perm[i] = p;
    }
    return TQ_OK;
}

static int transpose_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    if (tq_dtype_size(x->dtype) == 0)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "unsupported type %s", tq_dtype_name(x->dtype));
    int perm[TQ_MAX_RANK];
    if ((rc = read_perm(c, perm)))
        return rc;
    int64_t dims[TQ_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = x->dims[perm[i]];
    tq_value_set_shape(c->out[0], x->dtype, x->rank, dims);
    return TQ_OK;
}

static int transpose_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    int perm[TQ_MAX_RANK];
    if (read_perm(c, perm))
        return TQ_EFORMAT;
    size_t es = tq_dtype_size(x->dtype);
    if (tq_value_numel(y) == 0)
        return TQ_OK;
    int64_t in_stride[TQ_MAX_RANK];
    int64_t s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        in_stride[i] = s;
        s *= x->dims[i];
    }
    /* Walk the output in order; drop size-1 dims and merge output dims that
     * stay adjacent in the input, so e.g. NCHW->NHWC is a 3-level loop. */
    int64_t dims[TQ_MAX_RANK], strides[TQ_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        int64_t d = y->dims[i], st = in_stride[perm[i]];
        if (d == 1)
            continue;
        if (r > 0 && strides[r - 1] == st * d) {
            dims[r - 1] *= d;
            strides[r - 1] = st;
            continue;
        }
        dims[r] = d;
        strides[r] = st;
        r++;
    }
    if (r == 0 || (r == 1 && strides[0] == 1)) {
        tq_copy_through(c);
        return TQ_OK;
    }
    int64_t n = dims[r - 1], step = strides[r - 1], outer = 1;
    for (int i = 0; i < r - 1; i++)
        outer *= dims[i];
    int64_t idx[TQ_MAX_RANK] = { 0 }, off = 0;
    const char *src = x->data;
    char *dst = y->data;
    for (int64_t k = 0; k < outer; k++, dst += n * (int64_t)es) {
        const char *from = src + off * (int64_t)es;
        switch (es) {
#define STRIDED(T)                                                                         \
    for (int64_t i = 0; i < n; i++)                                                        \
        ((T *)dst)[i] = ((const T *)from)[i * step];                                       \
    break;
        case 1: STRIDED(uint8_t)
        case 2: STRIDED(uint16_t)
        case 4: STRIDED(uint32_t)
        default: STRIDED(uint64_t)
#undef STRIDED
        }
        for (int d = r - 2; d >= 0; d--) {
            off += strides[d];
            if (++idx[d] < dims[d])
                break;
            off -= strides[d] * dims[d];
            idx[d] = 0;
        }
    }
    return TQ_OK;
}

const tq_op_def tq_op_transpose = { "", "Transpose", transpose_prepare, transpose_eval, NULL };

/* ---- Concat */

static int concat_prepare(tq_op_ctx *c)
{
    if (c->n_in < 1 || c->n_out < 1)
        return tq_op_fail(c, TQ_EFORMAT, "needs at least one input and one output");
    for (int i = 0; i < c->n_in; i++)
        if (!c->in[i])
            return tq_op_fail(c, TQ_EFORMAT, "input %d is missing", i);
    const tq_value *x0 = c->in[0];
    const tq_attr *attr = tq_node_attr(c->node, "axis");
    if (!attr)
        return tq_op_fail(c, TQ_EFORMAT, "needs an 'axis' attribute");
    int axis;
    int rc = tq_axis_norm(c, attr->i, x0->rank, false, &axis);
    if (rc)
        return rc;
    if (tq_dtype_size(x0->dtype) == 0)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "unsupported type %s", tq_dtype_name(x0->dtype));
    int64_t dims[TQ_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < c->n_in; i++) {
        const tq_value *x = c->in[i];
        if (x->dtype != x0->dtype || x->rank != x0->rank)
            return tq_op_fail(c, TQ_EFORMAT, "input '%s' (%s, rank %d) does not match '%s' "
                              "(%s, rank %d)", x->name, tq_dtype_name(x->dtype), x->rank,
                              x0->name, tq_dtype_name(x0->dtype), x0->rank);
        for (int d = 0; d < x->rank; d++)
            if (d != axis && x->dims[d] != x0->dims[d])
                return tq_op_fail(c, TQ_EFORMAT, "input '%s' has size %lld in dim %d, '%s' "
                                  "has %lld", x->name, (long long)x->dims[d], d, x0->name,
                                  (long long)x0->dims[d]);
        dims[axis] += x->dims[axis];
    }
    tq_value_set_shape(c->out[0], x0->dtype, x0->rank, dims);
    return TQ_OK;
}

static int concat_eval(tq_op_ctx *c)
{
    tq_value *y = c->out[0];
    int axis;
    if (tq_axis_norm(c, tq_node_attr_int(c->node, "axis", 0), y->rank, false, &axis))
        return TQ_EFORMAT;
    size_t es = tq_dtype_size(y->dtype);
    int64_t outer = tq_shape_numel(y->dims, axis);
    int64_t inner = tq_shape_numel(y->dims + axis + 1, y->rank - axis - 1);
    char *dst = y->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int i = 0; i < c->n_in; i++) {
            const tq_value *x = c->in[i];
            size_t block = (size_t)(x->dims[axis] * inner) * es;
            if (block)
                memcpy(dst, (const char *)x->data + (size_t)o * block, block);
            dst += block;
        }
    }
    return TQ_OK;
}

const tq_op_def tq_op_concat = { "", "Concat", concat_prepare, concat_eval, NULL };

/* ---- Gather: out = data[:axis] + indices.shape + data[axis+1:]. */

static int gather_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 2, 2);
    if (rc)
        return rc;
    const tq_value *x = c->in[0], *ind = c->in[1];
    int axis;
    if ((rc = tq_axis_norm(c, tq_node_attr_int(c->node, "axis", 0), x->rank, false, &axis)))
        return rc;
    if (ind->dtype != TQ_INT32 && ind->dtype != TQ_INT64)
        return tq_op_fail(c, TQ_EFORMAT, "indices '%s' must be int32 or int64, are %s",
                          ind->name, tq_dtype_name(ind->dtype));
    if (tq_dtype_size(x->dtype) == 0)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "unsupported type %s", tq_dtype_name(x->dtype));
    int r = x->rank - 1 + ind->rank;
    if (r > TQ_MAX_RANK)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "output rank %d exceeds %d", r, TQ_MAX_RANK);
    int64_t dims[TQ_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++)
        dims[k++] = x->dims[i];
    for (int i = 0; i < ind->rank; i++)
        dims[k++] = ind->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        dims[k++] = x->dims[i];
    tq_value_set_shape(c->out[0], x->dtype, r, dims);
    return TQ_OK;
}

static int gather_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0], *ind = c->in[1];
    int axis;
    if (tq_axis_norm(c, tq_node_attr_int(c->node, "axis", 0), x->rank, false, &axis))
        return TQ_EFORMAT;
    size_t es = tq_dtype_size(x->dtype);
    int64_t outer = tq_shape_numel(x->dims, axis);
    int64_t len = x->dims[axis];
    size_t block = (size_t)tq_shape_numel(x->dims + axis + 1, x->rank - axis - 1) * es;
    int64_t n_ind = tq_value_numel(ind);
    const char *src = x->data;
    char *dst = c->out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t k = 0; k < n_ind; k++) {
            int64_t i = ind->dtype == TQ_INT64 ? ((const int64_t *)ind->data)[k]
                                               : ((const int32_t *)ind->data)[k];
            int64_t at = i < 0 ? i + len : i;
            if (at < 0 || at >= len)
                return tq_op_fail(c, TQ_EFORMAT, "index %lld is out of range [%lld, %lld)",
                                  (long long)i, (long long)-len, (long long)len);
            if (block)
                memcpy(dst, src + (size_t)(o * len + at) * block, block);
            dst += block;
        }
    }
    return TQ_OK;
}

const tq_op_def tq_op_gather = { "", "Gather", gather_prepare, gather_eval, NULL };
