/* Op family 'pool': MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool
 * on fp32 NC[D]HW tensors with 1 to 3 spatial dims. */
#include <math.h>
#include <stdlib.h>

#include "kernels/pool.h"
#include "runtime/op.h"
#include "runtime/ops/spatial.h"

typedef struct pool_state {
    tq_pool_geom geom;
    int64_t planes, in_plane, out_plane;
    bool count_include_pad;
    bool column_major;   /* MaxPool storage_order = 1 (Indices only) */
} pool_state;

static void pool_release(void *p)
{
    free(p);
}

static int check_input(tq_op_ctx *c, int min_rank, bool allow_8bit)
{
    const tq_value *x = c->in[0];
    if (x->dtype != TQ_FLOAT && !(allow_8bit && (x->dtype == TQ_UINT8 || x->dtype == TQ_INT8)))
        return tq_op_fail(c, x->dtype == TQ_FLOAT16 ? TQ_EUNSUPPORTED : TQ_EFORMAT,
                          "input '%s' is %s; only float32 is supported", x->name,
                          tq_dtype_name(x->dtype));
    if (x->rank < min_rank || x->rank > 2 + TQ_POOL_MAX_DIMS)
        return tq_op_fail(c, TQ_EUNSUPPORTED,
                          "input '%s' has rank %d; ranks %d..%d (N, C, 1-3 spatial dims) are "
                          "supported",
                          x->name, x->rank, min_rank, 2 + TQ_POOL_MAX_DIMS);
    return TQ_OK;
}

static int window_prepare(tq_op_ctx *c, bool is_max)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc || (rc = check_input(c, 3, is_max)))
        return rc;
    const tq_value *x = c->in[0];
    bool want_idx = is_max && c->n_out > 1 && c->out[1];
    if (want_idx && x->dtype != TQ_FLOAT)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "MaxPool Indices are supported for float32 only");
    pool_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    int nd = x->rank - 2;
    tq_spatial sp;
    if ((rc = tq_spatial_read(c, nd, NULL, &sp)))
        return rc;
    if (!is_max && c->opset < 19 && tq_node_attr(c->node, "dilations"))
        return tq_op_fail(c, TQ_EFORMAT, "AveragePool has no 'dilations' before opset 19");
    bool ceil_mode = tq_node_attr_int(c->node, "ceil_mode", 0) != 0;
    st->count_include_pad = tq_node_attr_int(c->node, "count_include_pad", 0) != 0;
    int64_t out_sp[TQ_SPATIAL_MAX];
    if ((rc = tq_spatial_forward(c, &sp, x->dims + 2, ceil_mode, out_sp)))
        return rc;
    tq_pool_geom *g = &st->geom;
    g->nd = nd;
    st->in_plane = st->out_plane = 1;
    for (int i = 0; i < nd; i++) {
        if (sp.pad_begin[i] >= (sp.kernel[i] - 1) * sp.dilation[i] + 1 ||
            sp.pad_end[i] >= (sp.kernel[i] - 1) * sp.dilation[i] + 1)
            return tq_op_fail(c, TQ_EFORMAT,
                              "pads of spatial dim %d must be smaller than the kernel extent",
                              i);
        g->in[i] = x->dims[2 + i];
        g->out[i] = out_sp[i];
        g->kernel[i] = sp.kernel[i];
        g->stride[i] = sp.stride[i];
        g->dilation[i] = sp.dilation[i];
        g->pad_begin[i] = sp.pad_begin[i];
        g->pad_end[i] = sp.pad_end[i];
        st->in_plane *= g->in[i];
        st->out_plane *= g->out[i];
    }
    st->planes = x->dims[0] * x->dims[1];
    st->column_major = tq_node_attr_int(c->node, "storage_order", 0) != 0;
    if (st->column_major && nd != 2 && want_idx)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "storage_order=1 is supported for 2-D only");
    /* 8-bit inputs are pooled as floats (exact) in scratch */
    if (x->dtype != TQ_FLOAT)
        c->scratch_bytes = (size_t)(st->in_plane + st->out_plane) * sizeof(float);
    int64_t od[TQ_MAX_RANK] = { x->dims[0], x->dims[1] };
    for (int i = 0; i < nd; i++)
        od[2 + i] = out_sp[i];
    tq_value_set_shape(c->out[0], x->dtype, x->rank, od);
    if (want_idx)
        tq_value_set_shape(c->out[1], TQ_INT64, x->rank, od);
    return TQ_OK;
}

static int maxpool_prepare(tq_op_ctx *c)
{
    return window_prepare(c, true);
}

static int avgpool_prepare(tq_op_ctx *c)
{
    return window_prepare(c, false);
}

static int maxpool_eval(tq_op_ctx *c)
{
    const pool_state *st = c->state;
    const tq_value *xv = c->in[0];
    if (xv->dtype != TQ_FLOAT) {
        float *fin = c->scratch, *fout = fin + st->in_plane;
        bool u8 = xv->dtype == TQ_UINT8;
        for (int64_t p = 0; p < st->planes; p++) {
            const uint8_t *xu = (const uint8_t *)xv->data + p * st->in_plane;
            const int8_t *xs = (const int8_t *)xv->data + p * st->in_plane;
            for (int64_t i = 0; i < st->in_plane; i++)
                fin[i] = u8 ? xu[i] : xs[i];
            tq_maxpool_c(&st->geom, fin, fout);
            uint8_t *yu = (uint8_t *)c->out[0]->data + p * st->out_plane;
            int8_t *ys = (int8_t *)c->out[0]->data + p * st->out_plane;
            for (int64_t i = 0; i < st->out_plane; i++) {
                if (u8)
                    yu[i] = (uint8_t)fout[i];
                else
                    ys[i] = (int8_t)fout[i];
            }
        }
        return TQ_OK;
    }
    const float *x = xv->data;
    float *y = c->out[0]->data;
    int64_t *idx = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
    for (int64_t p = 0; p < st->planes; p++) {
        int64_t *ip = idx ? idx + p * st->out_plane : NULL;
        tq_maxpool_idx_c(&st->geom, x + p * st->in_plane, y + p * st->out_plane, ip);
        if (!ip)
            continue;
        /* Indices count over the whole tensor (N, C included) */
        for (int64_t i = 0; i < st->out_plane; i++) {
            int64_t within = ip[i];
            if (st->column_major) {
                int64_t h = st->geom.in[0], w = st->geom.in[1];
                within = (within % w) * h + within / w;
            }
            ip[i] = p * st->in_plane + within;
        }
    }
    return TQ_OK;
}

static int avgpool_eval(tq_op_ctx *c)
{
    const pool_state *st = c->state;
    const float *x = c->in[0]->data;
    float *y = c->out[0]->data;
    for (int64_t p = 0; p < st->planes; p++)
        tq_avgpool_c(&st->geom, x + p * st->in_plane, y + p * st->out_plane,
                     st->count_include_pad);
    return TQ_OK;
}

/* Global pools: every spatial dim collapses to 1. */
static int global_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc || (rc = check_input(c, 2, false)))
        return rc;
    const tq_value *x = c->in[0];
    int64_t od[TQ_MAX_RANK] = { x->dims[0], x->dims[1] };
    for (int i = 2; i < x->rank; i++)
        od[i] = 1;
    tq_value_set_shape(c->out[0], TQ_FLOAT, x->rank, od);
    return TQ_OK;
}

static int global_avg_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t n = planes ? tq_value_numel(x) / planes : 0;
    tq_global_avgpool_c(x->data, planes, n, c->out[0]->data);
    return TQ_OK;
}

static int global_max_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t n = planes ? tq_value_numel(x) / planes : 0;
    const float *in = x->data;
    float *out = c->out[0]->data;
    for (int64_t p = 0; p < planes; p++) {
        float m = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            float v = in[p * n + i];
            if (v > m || isnan(v))
                m = v;
        }
        out[p] = m;
    }
    return TQ_OK;
}

static const tq_op_def op_maxpool = { "", "MaxPool", maxpool_prepare, maxpool_eval,
                                      pool_release };
static const tq_op_def op_avgpool = { "", "AveragePool", avgpool_prepare, avgpool_eval,
                                      pool_release };
static const tq_op_def op_gap = { "", "GlobalAveragePool", global_prepare, global_avg_eval,
                                  NULL };
static const tq_op_def op_gmp = { "", "GlobalMaxPool", global_prepare, global_max_eval, NULL };

const tq_op_def *const tq_ops_pool[] = { &op_maxpool, &op_avgpool, &op_gap, &op_gmp, NULL };
