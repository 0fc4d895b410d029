/* ReduceSum and ReduceMean: axes as an attribute (ReduceSum before opset
 * 13, ReduceMean before 18) or as an optional constant input afterwards;
 * keepdims; noop_with_empty_axes. Sums accumulate in double (int64 for
 * integer types) in per-eval scratch, one accumulator per output. */
#include <string.h>

#include "runtime/ops/ops_common.h"

typedef struct reduce_spec {
    bool reduced[TQ_MAX_RANK];
    bool noop; /* empty axes with noop_with_empty_axes: output = input */
} reduce_spec;

static bool is_mean(const tq_op_ctx *c)
{
    return strcmp(c->node->op_type, "ReduceMean") == 0;
}

static int reduce_spec_read(tq_op_ctx *c, reduce_spec *s)
{
    const tq_value *x = c->in[0];
    int axes_input_from = is_mean(c) ? 18 : 13;
    int64_t axes[TQ_MAX_RANK];
    int n = 0;
    bool given = false;
    int rc;
    if (c->opset < axes_input_from) {
        const tq_attr *a = tq_node_attr(c->node, "axes");
        if (a) {
            if (a->type != TQ_ATTR_INTS || a->n > TQ_MAX_RANK)
                return tq_op_fail(c, TQ_EFORMAT, "attribute 'axes' must be at most %d ints",
                                  TQ_MAX_RANK);
            n = a->n;
            memcpy(axes, a->ints, (size_t)n * sizeof *axes);
            given = true;
        }
    } else if (c->n_in > 1 && c->in[1]) {
        if ((rc = tq_op_const_ints(c, 1, axes, TQ_MAX_RANK, &n)))
            return rc;
        given = true;
    }
    memset(s, 0, sizeof *s);
    if (!given || n == 0) {
        s->noop = tq_node_attr_int(c->node, "noop_with_empty_axes", 0) != 0;
        for (int i = 0; i < x->rank; i++)
            s->reduced[i] = !s->noop;
        return TQ_OK;
    }
    for (int i = 0; i < n; i++) {
        int a;
        if ((rc = tq_axis_norm(c, axes[i], x->rank, false, &a)))
            return rc;
        s->reduced[a] = true;
    }
    return TQ_OK;
}

static bool reduce_type_ok(tq_dtype t)
{
    return t == TQ_FLOAT || t == TQ_FLOAT16 || t == TQ_DOUBLE || t == TQ_INT32 ||
           t == TQ_INT64 || t == TQ_UINT32 || t == TQ_UINT64;
}

static int reduce_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 2);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    if (!reduce_type_ok(x->dtype))
        return tq_op_fail(c, TQ_EUNSUPPORTED, "unsupported type %s", tq_dtype_name(x->dtype));
    reduce_spec s;
    if ((rc = reduce_spec_read(c, &s)))
        return rc;
    bool keep = tq_node_attr_int(c->node, "keepdims", 1) != 0;
    int64_t dims[TQ_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!s.reduced[i])
            dims[r++] = x->dims[i];
        else if (keep)
            dims[r++] = 1;
    }
    tq_value_set_shape(c->out[0], x->dtype, r, dims);
    c->scratch_bytes = (size_t)tq_value_numel(c->out[0]) * sizeof(double);
    return TQ_OK;
}

static int reduce_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    reduce_spec s;
    if (reduce_spec_read(c, &s))
        return TQ_EFORMAT;
    if (s.noop) {
        tq_copy_through(c);
        return TQ_OK;
    }
    int64_t n_out = tq_value_numel(y), n_in = tq_value_numel(x);
    bool integral = x->dtype == TQ_INT32 || x->dtype == TQ_INT64 || x->dtype == TQ_UINT32 ||
                    x->dtype == TQ_UINT64;
    double *accf = c->scratch;
    int64_t *acci = c->scratch;
    for (int64_t i = 0; i < n_out; i++) {
        if (integral)
            acci[i] = 0;
        else
            accf[i] = 0.0;
    }
    /* Input strides into the output (0 on reduced dims), merged where
     * adjacent dims are both kept or both reduced. */
    int64_t dims[TQ_MAX_RANK], ostr[TQ_MAX_RANK];
    bool red[TQ_MAX_RANK];
    int r = 0;
    int64_t os = 1;
    int64_t full_ostr[TQ_MAX_RANK];
    for (int i = x->rank - 1; i >= 0; i--) {
        full_ostr[i] = s.reduced[i] ? 0 : os;
        if (!s.reduced[i])
            os *= x->dims[i];
    }
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] == 1)
            continue;
        if (r > 0 && red[r - 1] == s.reduced[i] && ostr[r - 1] == full_ostr[i] * x->dims[i]) {
            dims[r - 1] *= x->dims[i];
            ostr[r - 1] = full_ostr[i];
            continue;
        }
        dims[r] = x->dims[i];
        ostr[r] = full_ostr[i];
        red[r] = s.reduced[i];
        r++;
    }
    int64_t count = n_out ? n_in / n_out : 0;
    if (n_in > 0) {
        if (r == 0) {
            dims[0] = 1;
            ostr[0] = 0;
            r = 1;
        }
        int64_t inner = dims[r - 1], step = ostr[r - 1], outer = n_in / inner;
        int64_t idx[TQ_MAX_RANK] = { 0 }, off = 0;
        for (int64_t k = 0; k < outer; k++) {
            int64_t base = k * inner;
            if (integral) {
                /* Unsigned adds: overflow wraps instead of being undefined. */
                bool wide = x->dtype == TQ_INT64 || x->dtype == TQ_UINT64;
                for (int64_t i = 0; i < inner; i++) {
                    int64_t v = wide ? ((const int64_t *)x->data)[base + i]
                                     : (int64_t)tq_load_f64(x->dtype, x->data, base + i);
                    int64_t *a = &acci[off + i * step];
                    *a = (int64_t)((uint64_t)*a + (uint64_t)v);
                }
            } else if (x->dtype == TQ_FLOAT) {
                const float *p = (const float *)x->data + base;
                if (step == 0) {
                    /* four chains: one serial double add per element would
                     * wait on the previous add's latency */
                    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
                    int64_t i = 0;
                    for (; i + 4 <= inner; i += 4) {
                        s0 += p[i];
                        s1 += p[i + 1];
                        s2 += p[i + 2];
                        s3 += p[i + 3];
                    }
                    for (; i < inner; i++)
                        s0 += p[i];
                    accf[off] += (s0 + s1) + (s2 + s3);
                } else {
                    for (int64_t i = 0; i < inner; i++)
                        accf[off + i] += p[i];
                }
            } else {
                for (int64_t i = 0; i < inner; i++)
                    accf[off + i * step] += tq_load_f64(x->dtype, x->data, base + i);
            }
            for (int d = r - 2; d >= 0; d--) {
                off += ostr[d];
                if (++idx[d] < dims[d])
                    break;
                off -= ostr[d] * dims[d];
                idx[d] = 0;
            }
        }
    }
    bool mean = is_mean(c);
    for (int64_t i = 0; i < n_out; i++) {
        if (integral) {
            int64_t v = mean && count ? acci[i] / count : acci[i];
            if (x->dtype == TQ_INT64 || x->dtype == TQ_UINT64)
                ((int64_t *)y->data)[i] = v;
            else
                tq_store_f64(y->dtype, y->data, i, (double)v);
        } else {
            tq_store_f64(y->dtype, y->data, i, mean ? accf[i] / (double)count : accf[i]);
        }
    }
    return TQ_OK;
}

static const tq_op_def reduce_sum_def = { "", "ReduceSum", reduce_prepare, reduce_eval, NULL };
static const tq_op_def reduce_mean_def = { "", "ReduceMean", reduce_prepare, reduce_eval, NULL };

const tq_op_def *const tq_ops_reduce[] = { &reduce_sum_def, &reduce_mean_def, NULL };
