/* Shape-only ops (data is copied unchanged): Flatten, Reshape, Identity,
 * Squeeze, Unsqueeze; and the ops that produce data from shapes or
 * attributes: Shape, Constant. Also lists layout.c and cast.c ops. */
#include <string.h>

#include "runtime/ops/ops_common.h"

static int copy_eval(tq_op_ctx *c)
{
    tq_copy_through(c);
    return TQ_OK;
}

/* ---- Identity */

static int identity_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    tq_value_set_shape(c->out[0], x->dtype, x->rank, x->dims);
    return TQ_OK;
}

static const tq_op_def identity_def = { "", "Identity", identity_prepare, copy_eval, NULL };

/* ---- Flatten: [prod(dims[:axis]), prod(dims[axis:])], axis in [-r, r]. */

static int flatten_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    int axis;
    rc = tq_axis_norm(c, tq_node_attr_int(c->node, "axis", 1), x->rank, true, &axis);
    if (rc)
        return rc;
    int64_t dims[2] = { tq_shape_numel(x->dims, axis),
                        tq_shape_numel(x->dims + axis, x->rank - axis) };
    tq_value_set_shape(c->out[0], x->dtype, 2, dims);
    return TQ_OK;
}

static const tq_op_def flatten_def = { "", "Flatten", flatten_prepare, copy_eval, NULL };

/* ---- Reshape */

static int reshape_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, c->opset < 5 ? 1 : 2, c->opset < 5 ? 1 : 2);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    int64_t shape[TQ_MAX_RANK];
    int n = 0;
    if (c->opset < 5) {
        const tq_attr *a = tq_node_attr(c->node, "shape");
        if (!a || a->type != TQ_ATTR_INTS || a->n > TQ_MAX_RANK)
            return tq_op_fail(c, TQ_EFORMAT, "needs a 'shape' attribute of at most %d ints",
                              TQ_MAX_RANK);
        n = a->n;
        memcpy(shape, a->ints, (size_t)n * sizeof *shape);
    } else if ((rc = tq_op_const_ints(c, 1, shape, TQ_MAX_RANK, &n))) {
        return rc;
    }
    bool allow_zero = tq_node_attr_int(c->node, "allowzero", 0) != 0;
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        if (shape[i] == 0 && !allow_zero) {
            if (i >= x->rank)
                return tq_op_fail(c, TQ_EFORMAT,
                                  "shape[%d] = 0 copies a dimension input '%s' (rank %d) lacks",
                                  i, x->name, x->rank);
            shape[i] = x->dims[i];
        }
        if (shape[i] == -1) {
            if (infer >= 0)
                return tq_op_fail(c, TQ_EFORMAT, "shape has more than one -1");
            infer = i;
        } else if (shape[i] < 0) {
            return tq_op_fail(c, TQ_EFORMAT, "shape[%d] = %lld is invalid", i,
                              (long long)shape[i]);
        } else {
            known *= shape[i];
        }
    }
    int64_t total = tq_value_numel(x);
    if (infer >= 0) {
        if (known == 0 || total % known != 0)
            return tq_op_fail(c, TQ_EFORMAT, "cannot infer the -1 in the shape: %lld elements "
                              "into blocks of %lld", (long long)total, (long long)known);
        shape[infer] = total / known;
    } else if (known != total) {
        return tq_op_fail(c, TQ_EFORMAT, "cannot reshape '%s' of %lld elements into %lld",
                          x->name, (long long)total, (long long)known);
    }
    tq_value_set_shape(c->out[0], x->dtype, n, shape);
    return TQ_OK;
}

static const tq_op_def reshape_def = { "", "Reshape", reshape_prepare, copy_eval, NULL };

/* ---- Squeeze / Unsqueeze: axes from the attribute before opset 13, from
 * input 1 afterwards (must be constant because it decides the shape). */

static int read_axes(tq_op_ctx *c, int64_t *axes, int *n, bool *given)
{
    *n = 0;
    *given = false;
    if (c->opset < 13) {
        const tq_attr *a = tq_node_attr(c->node, "axes");
        if (!a)
            return TQ_OK;
        if (a->type != TQ_ATTR_INTS || a->n > TQ_MAX_RANK)
            return tq_op_fail(c, TQ_EFORMAT, "attribute 'axes' must be at most %d ints",
                              TQ_MAX_RANK);
        memcpy(axes, a->ints, (size_t)a->n * sizeof *axes);
        *n = a->n;
        *given = true;
        return TQ_OK;
    }
    if (c->n_in < 2 || !c->in[1])
        return TQ_OK;
    *given = true;
    return tq_op_const_ints(c, 1, axes, TQ_MAX_RANK, n);
}

static int squeeze_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, c->opset < 13 ? 1 : 2);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    int64_t axes[TQ_MAX_RANK];
    int n;
    bool given;
    if ((rc = read_axes(c, axes, &n, &given)))
        return rc;
    bool drop[TQ_MAX_RANK] = { false };
    for (int i = 0; i < n; i++) {
        int a;
        if ((rc = tq_axis_norm(c, axes[i], x->rank, false, &a)))
            return rc;
        if (x->dims[a] != 1)
            return tq_op_fail(c, TQ_EFORMAT, "cannot squeeze axis %d of '%s': size %lld", a,
                              x->name, (long long)x->dims[a]);
        drop[a] = true;
    }
    if (!given)
        for (int i = 0; i < x->rank; i++)
            drop[i] = x->dims[i] == 1;
    int64_t dims[TQ_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i])
            dims[r++] = x->dims[i];
    tq_value_set_shape(c->out[0], x->dtype, r, dims);
    return TQ_OK;
}

static const tq_op_def squeeze_def = { "", "Squeeze", squeeze_prepare, copy_eval, NULL };

static int unsqueeze_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, c->opset < 13 ? 1 : 2, c->opset < 13 ? 1 : 2);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    int64_t axes[TQ_MAX_RANK];
    int n;
    bool given;
    if ((rc = read_axes(c, axes, &n, &given)))
        return rc;
    if (!given)
        return tq_op_fail(c, TQ_EFORMAT, "needs axes");
    int r = x->rank + n;
    if (r > TQ_MAX_RANK)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "output rank %d exceeds %d", r, TQ_MAX_RANK);
    bool inserted[TQ_MAX_RANK] = { false };
    for (int i = 0; i < n; i++) {
        int a;
        if ((rc = tq_axis_norm(c, axes[i], r, false, &a)))
            return rc;
        if (inserted[a])
            return tq_op_fail(c, TQ_EFORMAT, "axis %d is repeated", a);
        inserted[a] = true;
    }
    int64_t dims[TQ_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++)
        dims[i] = inserted[i] ? 1 : x->dims[k++];
    tq_value_set_shape(c->out[0], x->dtype, r, dims);
    return TQ_OK;
}

static const tq_op_def unsqueeze_def = { "", "Unsqueeze", unsqueeze_prepare, copy_eval, NULL };

/* ---- Shape (opset 15 start/end, clamped like Python slicing). */

static void shape_range(tq_op_ctx *c, int *start, int *end)
{
    int r = c->in[0]->rank;
    int64_t s = tq_node_attr_int(c->node, "start", 0);
    int64_t e = tq_node_attr_int(c->node, "end", r);
    s = s < 0 ? s + r : s;
    e = e < 0 ? e + r : e;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    *start = (int)s;
    *end = (int)(e < s ? s : e);
}

static int shape_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc)
        return rc;
    int s, e;
    shape_range(c, &s, &e);
    int64_t len = e - s;
    tq_value_set_shape(c->out[0], TQ_INT64, 1, &len);
    return TQ_OK;
}

static int shape_eval(tq_op_ctx *c)
{
    int s, e;
    shape_range(c, &s, &e);
    int64_t *out = c->out[0]->data;
    for (int i = s; i < e; i++)
        out[i - s] = c->in[0]->dims[i];
    return TQ_OK;
}

static const tq_op_def shape_def = { "", "Shape", shape_prepare, shape_eval, NULL, true };

/* ---- Constant */

static int constant_source(tq_op_ctx *c, const tq_attr **src)
{
    static const char *const names[] = { "value", "value_float", "value_floats",
                                          "value_int", "value_ints" };
    *src = NULL;
    for (int i = 0; i < c->node->n_attrs; i++) {
        const tq_attr *a = &c->node->attrs[i];
        bool known = false;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            known |= strcmp(a->name, names[k]) == 0;
        if (!known)
            return tq_op_fail(c, TQ_EUNSUPPORTED, "attribute '%s' is not supported", a->name);
        if (*src)
            return tq_op_fail(c, TQ_EFORMAT, "has more than one value attribute");
        *src = a;
    }
    if (!*src)
        return tq_op_fail(c, TQ_EFORMAT, "has no value attribute");
    return TQ_OK;
}

static int constant_prepare(tq_op_ctx *c)
{
    if (c->n_in != 0 || c->n_out < 1)
        return tq_op_fail(c, TQ_EFORMAT, "expects no inputs and one output");
    const tq_attr *a;
    int rc = constant_source(c, &a);
    if (rc)
        return rc;
    int64_t n = a->n;
    switch (a->type) {
    case TQ_ATTR_TENSOR:
        if (!a->t)
            return tq_op_fail(c, TQ_EFORMAT, "attribute 'value' holds no tensor");
        if (tq_dtype_size(a->t->dtype) == 0)
            return tq_op_fail(c, TQ_EUNSUPPORTED, "tensor type %s is not supported",
                              tq_dtype_name(a->t->dtype));
        if ((size_t)tq_tensor_numel(a->t) * tq_dtype_size(a->t->dtype) != a->t->nbytes)
            return tq_op_fail(c, TQ_EFORMAT, "tensor data size does not match its shape");
        tq_value_set_shape(c->out[0], a->t->dtype, a->t->rank, a->t->dims);
        return TQ_OK;
    case TQ_ATTR_FLOAT: tq_value_set_shape(c->out[0], TQ_FLOAT, 0, NULL); return TQ_OK;
    case TQ_ATTR_INT: tq_value_set_shape(c->out[0], TQ_INT64, 0, NULL); return TQ_OK;
    case TQ_ATTR_FLOATS: tq_value_set_shape(c->out[0], TQ_FLOAT, 1, &n); return TQ_OK;
    case TQ_ATTR_INTS: tq_value_set_shape(c->out[0], TQ_INT64, 1, &n); return TQ_OK;
    default:
        return tq_op_fail(c, TQ_EFORMAT, "attribute '%s' has the wrong type", a->name);
    }
}

static int constant_eval(tq_op_ctx *c)
{
    const tq_attr *a;
    int rc = constant_source(c, &a);
    if (rc)
        return rc;
    void *out = c->out[0]->data;
    switch (a->type) {
    case TQ_ATTR_TENSOR:
        if (a->t->nbytes)
            memcpy(out, a->t->data, a->t->nbytes);
        break;
    case TQ_ATTR_FLOAT: *(float *)out = a->f; break;
    case TQ_ATTR_INT: *(int64_t *)out = a->i; break;
    case TQ_ATTR_FLOATS:
        if (a->n)
            memcpy(out, a->floats, (size_t)a->n * sizeof(float));
        break;
    case TQ_ATTR_INTS:
        if (a->n)
            memcpy(out, a->ints, (size_t)a->n * sizeof(int64_t));
        break;
    default: break;
    }
    return TQ_OK;
}

static const tq_op_def constant_def = { "", "Constant", constant_prepare, constant_eval, NULL };

const tq_op_def *const tq_ops_shape[] = {
    &identity_def, &flatten_def, &reshape_def, &squeeze_def, &unsqueeze_def, &shape_def,
    &constant_def, &tq_op_transpose, &tq_op_concat, &tq_op_gather, &tq_op_cast, NULL,
};
