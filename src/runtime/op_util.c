/* Small helpers shared by op implementations. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/op.h"
#include "util/error.h"

int tq_op_fail(tq_op_ctx *c, int code, const char *fmt, ...)
{
    char msg[TQ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tq_fail(c->err, code, "node '%s' (%s): %s", c->node->name ? c->node->name : "",
                   c->node->op_type, msg);
}

int tq_op_check_arity(tq_op_ctx *c, int lo, int hi)
{
    if (c->n_in < lo || c->n_in > hi)
        return tq_op_fail(c, TQ_EFORMAT, "expects %d..%d inputs, has %d", lo, hi, c->n_in);
    for (int i = 0; i < lo; i++)
        if (!c->in[i])
            return tq_op_fail(c, TQ_EFORMAT, "required input %d is missing", i);
    if (c->n_out < 1)
        return tq_op_fail(c, TQ_EFORMAT, "has no output");
    return TQ_OK;
}

void tq_value_set_shape(tq_value *v, tq_dtype dt, int rank, const int64_t *dims)
{
    v->dtype = dt;
    v->rank = rank;
    for (int i = 0; i < rank; i++)
        v->dims[i] = dims[i];
}

int64_t tq_value_numel(const tq_value *v)
{
    return tq_shape_numel(v->dims, v->rank);
}

/* Input `input`, readable while planning (a constant, or a graph input whose
 * value the session remembers), with at most max values. */
static int known_input(tq_op_ctx *c, int input, int max, const char *from, tq_value **out,
                       int64_t *cnt)
{
    tq_value *v = input < c->n_in ? c->in[input] : NULL;
    if (!v)
        return tq_op_fail(c, TQ_EFORMAT, "input %d is missing", input);
    if (v->is_graph_input)
        v->read_in_prepare = true;
    else if (!v->is_const)
        return tq_op_fail(c, TQ_EUNSUPPORTED,
                          "input %d ('%s') must be known before running (a constant "
                          "or computed from %s only)",
                          input, v->name, from);
    *cnt = tq_value_numel(v);
    if (*cnt < 0 || *cnt > max)
        return tq_op_fail(c, TQ_EFORMAT, "input %d ('%s') has %lld values, at most %d allowed",
                          input, v->name, (long long)*cnt, max);
    *out = v;
    return TQ_OK;
}

int tq_op_const_ints(tq_op_ctx *c, int input, int64_t *out, int max, int *n)
{
    tq_value *v;
    int64_t cnt;
    int rc = known_input(c, input, max, "shapes", &v, &cnt);
    if (rc)
        return rc;
    for (int64_t i = 0; i < cnt; i++) {
        if (v->dtype == TQ_INT64)
            out[i] = ((const int64_t *)v->data)[i];
        else if (v->dtype == TQ_INT32)
            out[i] = ((const int32_t *)v->data)[i];
        else
            return tq_op_fail(c, TQ_EFORMAT, "input %d ('%s') must be int64 or int32, is %s",
                              input, v->name, tq_dtype_name(v->dtype));
    }
    *n = (int)cnt;
    return TQ_OK;
}

int tq_op_const_floats(tq_op_ctx *c, int input, float *out, int max, int *n)
{
    tq_value *v;
    int64_t cnt;
    int rc = known_input(c, input, max, "constants", &v, &cnt);
    if (rc)
        return rc;
    for (int64_t i = 0; i < cnt; i++) {
        if (v->dtype == TQ_FLOAT)
            out[i] = ((const float *)v->data)[i];
        else if (v->dtype == TQ_FLOAT16)
            out[i] = tq_half_to_float(((const uint16_t *)v->data)[i]);
        else if (v->dtype == TQ_DOUBLE)
            out[i] = (float)((const double *)v->data)[i];
        else
            return tq_op_fail(c, TQ_EFORMAT, "input %d ('%s') must be a float tensor, is %s",
                              input, v->name, tq_dtype_name(v->dtype));
    }
    *n = (int)cnt;
    return TQ_OK;
}

int tq_broadcast_shape(tq_op_ctx *c, const tq_value *a, const tq_value *b, int *rank,
                       int64_t *dims)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return tq_op_fail(c, TQ_EFORMAT,
                              "cannot broadcast '%s' and '%s': dimension %d is %lld vs %lld",
                              a->name, b->name, i, (long long)da, (long long)db);
        dims[i] = da == 1 ? db : da;
    }
    *rank = r;
    return TQ_OK;
}
