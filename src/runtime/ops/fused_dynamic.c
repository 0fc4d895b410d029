/* tinyq.DynQConv and tinyq.DynQMatMul: the dynamic int8 chain
 * DynamicQuantizeLinear -> ConvInteger/MatMulInteger -> Cast -> Mul [-> Add]
 * as one kernel (graph/fuse_dynamic.c writes them). Inputs: x (float), w
 * (int8/uint8, constant), w_zero_point (optional), w_scale (float: scalar, or
 * one per output channel / column, in any shape with one non-1 dim: the
 * fuser checked it broadcast along the channel axis), bias (optional float
 * per output channel/column).
 *
 * Equality with the unfused graph: x is quantised by the same function as
 * DynamicQuantizeLinear (tq_dynamic_quantize), the integer result is exact,
 * and the epilogue rounds exactly where the unfused ops do:
 * (float)acc, * (x_scale * w_scale) [float product], + bias - separately,
 * never fused into an FMA. So the outputs are bit-identical. The optional
 * tail (DynQConv input 5: a residual added after the bias; attribute act =
 * 1 Relu / 2 Clip(act_min, act_max)) repeats the unfused float ops too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dynq_dw.h"
#include "runtime/ops/qcommon.h"
#include "runtime/ops/qconv.h"

#define XQ_ALIGN 64

typedef struct dyn_state {
    tq_qconv q;          /* conv */
    int64_t M, K, N;     /* matmul: rows (all leading dims), depth, columns */
    int k2;
    size_t ldb;
    int16_t *bpack;      /* matmul weights, w - w_zp */
    float *w_scale;      /* per output channel / column */
    float *bias;         /* per output channel / column, or NULL */
    float *sprod;        /* eval: x_scale * w_scale per channel */
    size_t xq_bytes;     /* quantised-input area at the start of the scratch */
    tq_qact act;         /* folded Relu / Clip */
    const float *res;    /* eval: residual input (conv), or NULL */
    const tq_qdsp *d;
    /* emit_range: track the output's min/max in the epilogue and publish it
     * (tq_value.has_range); use_range: take the input's from its producer
     * instead of a separate pass (graph/fuse_dynamic.c pairs them). */
    bool emit_range, use_range;
    float rmin, rmax;
    /* Depthwise 3x3 (stride 1 or 2): the whole chain per channel in one
     * kernel (kernels/dynq_dw.h), no 8-bit tensor or int32 pass between;
     * taken when dw_w is set (tq_qconv_dw3x3) */
    tq_conv2d_geom dw_geom;
    float *dw_w;         /* cout x 9 taps: w - w_zp */
} dyn_state;

static void dyn_release(void *p)
{
    dyn_state *st = p;
    if (!st)
        return;
    tq_qconv_release(&st->q);
    free(st->bpack);
    free(st->w_scale);
    free(st->bias);
    free(st->sprod);
    free(st->dw_w);
    free(st);
}

static int read_vectors(tq_op_ctx *c, dyn_state *st, int64_t n)
{
    st->w_scale = malloc(sizeof(float) * (size_t)n);
    st->sprod = malloc(sizeof(float) * (size_t)n);
    if (!st->w_scale || !st->sprod)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    if (!c->in[3]->is_const)
        return tq_op_fail(c, TQ_EFORMAT, "weight scale '%s' must be constant", c->in[3]->name);
    const tq_value *ws = c->in[3];
    int64_t len = tq_value_numel(ws), big = 0;
    for (int d = 0; d < ws->rank; d++)
        big += ws->dims[d] != 1;
    if (ws->dtype != TQ_FLOAT || big > 1 || (len != 1 && len != n))
        return tq_op_fail(c, TQ_EFORMAT,
                          "weight scale '%s' must be float32, one value or %lld along one axis",
                          ws->name, (long long)n);
    for (int64_t k = 0; k < n; k++)
        st->w_scale[k] = ((const float *)ws->data)[len == 1 ? 0 : k];
    const tq_value *b = c->n_in > 4 ? c->in[4] : NULL;
    if (b) {
        if (!b->is_const || b->dtype != TQ_FLOAT || tq_value_numel(b) != n)
            return tq_op_fail(c, TQ_EFORMAT, "bias '%s' must be a constant float vector of %lld",
                              b->name, (long long)n);
        st->bias = malloc(sizeof(float) * (size_t)n);
        if (!st->bias)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        memcpy(st->bias, b->data, sizeof(float) * (size_t)n);
    }
    return TQ_OK;
}

static int check_common(tq_op_ctx *c)
{
    /* x, w, [w_zp], w_scale, [bias], [residual] */
    if (c->n_in < 4 || c->n_in > 6 || !c->in[0] || !c->in[1] || !c->in[3] || c->n_out < 1)
        return tq_op_fail(c, TQ_EFORMAT,
                          "expects inputs (x, w, [w_zp], w_scale, [bias], [residual])");
    if (c->in[0]->dtype != TQ_FLOAT)
        return tq_op_fail(c, TQ_EFORMAT, "input '%s' must be float32", c->in[0]->name);
    if (!c->in[1]->is_const || (c->in[2] && !c->in[2]->is_const))
        return tq_op_fail(c, TQ_EFORMAT, "weight '%s' must be constant", c->in[1]->name);
    return TQ_OK;
}

/* Input 0's DynamicQuantizeLinear parameters, reusing its producer's
 * min/max when paired (the same values d->minmax would return: min and max
 * do not depend on the order they are taken in, NaNs ignored either way). */
static void input_qparams(tq_op_ctx *c, const dyn_state *st, const tq_qdsp *d, float *xs,
                          int *xzp)
{
    const tq_value *x = c->in[0];
    size_t n = (size_t)tq_value_numel(x);
    float mn = 0.0f, mx = 0.0f;
    if (st->use_range && x->has_range && n) {
        mn = x->range_min;
        mx = x->range_max;
    } else if (n) {
        d->minmax(x->data, n, &mn, &mx);
    }
    tq_dynamic_qparams(mn, mx, xs, xzp);
}

/* Input 0 quantised like DynamicQuantizeLinear into xq */
static void quantize_input(tq_op_ctx *c, const dyn_state *st, const tq_qdsp *d, uint8_t *xq,
                           float *xs, int *xzp)
{
    input_qparams(c, st, d, xs, xzp);
    d->quantize(c->in[0]->data, (size_t)tq_value_numel(c->in[0]), *xs, *xzp, 0, xq);
}

static int read_act(tq_op_ctx *c, dyn_state *st)
{
    st->act.kind = (int)tq_node_attr_int(c->node, "act", TQ_QACT_NONE);
    st->act.lo = tq_node_attr_float(c->node, "act_min", 0.0f);
    st->act.hi = tq_node_attr_float(c->node, "act_max", 0.0f);
    if (st->act.kind < TQ_QACT_NONE || st->act.kind > TQ_QACT_CLIP)
        return tq_op_fail(c, TQ_EFORMAT, "unknown activation %d", st->act.kind);
    st->use_range = tq_node_attr_int(c->node, "x_range", 0) != 0;
    st->emit_range = tq_node_attr_int(c->node, "emit_range", 0) != 0;
    return TQ_OK;
}

static size_t align_up(size_t n)
{
    return (n + XQ_ALIGN - 1) / XQ_ALIGN * XQ_ALIGN;
}

/* ---- DynQConv */

static int dconv_prepare(tq_op_ctx *c)
{
    int rc = check_common(c);
    if (rc)
        return rc;
    dyn_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    /* The engine checks the quantised input: show it a uint8 view of x. */
    tq_value xq = *c->in[0];
    xq.dtype = TQ_UINT8;
    tq_value *saved = c->in[0];
    c->in[0] = &xq;
    int64_t od[4];
    size_t scratch = 0;
    rc = tq_qconv_prepare(c, &st->q, 0, 1, 2, &scratch, od);
    c->in[0] = saved;
    if (rc)
        return rc;
    if ((rc = read_vectors(c, st, st->q.cout)) || (rc = read_act(c, st)))
        return rc;
    const tq_value *res = c->n_in > 5 ? c->in[5] : NULL;
    if (res && (res->dtype != TQ_FLOAT || res->rank != 4 || res->dims[0] != od[0] ||
                res->dims[1] != od[1] || res->dims[2] != od[2] || res->dims[3] != od[3]))
        return tq_op_fail(c, TQ_EUNSUPPORTED,
                          "residual '%s' must be float32 of the output shape [%lld,%lld,%lld,%lld]",
                          res->name, (long long)od[0], (long long)od[1], (long long)od[2],
                          (long long)od[3]);
    /* the one-pass depthwise kernel quantises uint8 rows and adds no residual */
    if (!res && !st->q.x_signed &&
        (rc = tq_qconv_dw3x3(c, &st->q, &st->dw_geom, &st->dw_w)))
        return rc;
    st->xq_bytes = align_up((size_t)tq_value_numel(c->in[0]));
    c->scratch_bytes = st->dw_w ? 0 : st->xq_bytes + scratch;
    tq_value_set_shape(c->out[0], TQ_FLOAT, 4, od);
    return TQ_OK;
}

static void dconv_epilogue(void *user, int64_t n, int64_t c0, int64_t nc, int64_t p0,
                           int64_t np, int32_t *acc, size_t ld)
{
    dyn_state *st = user;
    const float *res = st->res ? st->res + (n * st->q.cout + c0) * st->q.pixels + p0 : NULL;
    if (st->emit_range) /* the min / max taken in the same pass */
        st->d->epilogue_rows_mm(acc, (int)nc, (int)np, ld, st->sprod + c0,
                                st->bias ? st->bias + c0 : NULL, res, (size_t)st->q.pixels,
                                &st->act, &st->rmin, &st->rmax);
    else
        st->d->epilogue_rows(acc, (int)nc, (int)np, ld, st->sprod + c0,
                             st->bias ? st->bias + c0 : NULL, res, (size_t)st->q.pixels,
                             &st->act);
}

/* The fused depthwise path: quantisation parameters from the input's range,
 * then one kernel call per channel. */
static void dconv_dw_eval(tq_op_ctx *c, dyn_state *st)
{
    const tq_value *x = c->in[0];
    const tq_qconv *q = &st->q;
    float xs;
    int xzp;
    input_qparams(c, st, st->d, &xs, &xzp);
    tq_dynq_dw_fn fn = tq_dynq_dw_get();
    float rmin = INFINITY, rmax = -INFINITY;
    int64_t in_plane = q->ih * q->iw;
    for (int64_t o = 0; o < q->cout; o++)
        st->sprod[o] = xs * st->w_scale[o];
    for (int64_t b = 0; b < q->batch; b++)
        for (int64_t g = 0; g < q->group; g++) {
            int64_t o0 = g * q->cout_g; /* output channels [o0, o0 + cout_g) */
            tq_dynq_dw_args a = { .scale = xs, .zp = xzp, .act = st->act, .nout = (int)q->cout_g,
                                  .w = st->dw_w + 9 * o0, .sprod = st->sprod + o0,
                                  .bias = st->bias ? st->bias + o0 : NULL };
            fn(&st->dw_geom, (const float *)x->data + (b * q->cin + g) * in_plane, &a,
               (float *)c->out[0]->data + (b * q->cout + o0) * q->pixels, (size_t)q->pixels,
               &rmin, &rmax);
        }
    c->out[0]->has_range = st->emit_range;
    c->out[0]->range_min = rmin;
    c->out[0]->range_max = rmax;
}

static int dconv_eval(tq_op_ctx *c)
{
    dyn_state *st = c->state;
    if (st->dw_w) {
        st->d = tq_qdsp_get();
        dconv_dw_eval(c, st);
        return TQ_OK;
    }
    st->d = tq_qdsp_get();
    st->res = c->n_in > 5 && c->in[5] ? c->in[5]->data : NULL;
    uint8_t *xq = c->scratch;
    float xs;
    int xzp;
    quantize_input(c, st, st->d, xq, &xs, &xzp);
    st->rmin = INFINITY;
    st->rmax = -INFINITY;
    for (int64_t o = 0; o < st->q.cout; o++)
        st->sprod[o] = xs * st->w_scale[o];
    tq_qconv_run(&st->q, st->d, st->q.wpack, xq, xzp, NULL, c->out[0]->data,
                 (char *)c->scratch + st->xq_bytes, dconv_epilogue, st);
    c->out[0]->has_range = st->emit_range;
    c->out[0]->range_min = st->rmin;
    c->out[0]->range_max = st->rmax;
    return TQ_OK;
}

/* ---- DynQMatMul */

static int dmm_prepare(tq_op_ctx *c)
{
    int rc = check_common(c);
    if (rc)
        return rc;
    const tq_value *x = c->in[0], *w = c->in[1], *wz = c->n_in > 2 ? c->in[2] : NULL;
    if (w->rank != 2 || !tq_is_q8(w->dtype) || x->rank < 1 || x->dims[x->rank - 1] != w->dims[0])
        return tq_op_fail(c, TQ_EFORMAT, "input '%s' and weight '%s' do not multiply", x->name,
                          w->name);
    if (wz && (wz->dtype != w->dtype || (tq_qparam_len(wz) != 1 && tq_qparam_len(wz) != w->dims[1])))
        return tq_op_fail(c, TQ_EFORMAT, "weight zero point '%s' does not match '%s'", wz->name,
                          w->name);
    dyn_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->K = w->dims[0];
    st->N = w->dims[1];
    st->M = st->K ? tq_value_numel(x) / st->K : 0;
    if (st->K > (1 << 24) || st->N > (1 << 24) || st->M > INT32_MAX)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "matrix sizes are too large");
    st->k2 = tq_qgemm_k2((int)st->K);
    st->ldb = tq_qgemm_ldb((int)st->N);
    st->bpack = malloc(sizeof(int16_t) * (size_t)st->k2 * st->ldb);
    if (!st->bpack)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    tq_qpack_rows((int)st->K, (int)st->N, w->data, (ptrdiff_t)st->N, 1, w->dtype == TQ_INT8,
                  wz ? wz->data : NULL, 0, wz && tq_qparam_len(wz) != 1 ? 1 : 0, st->bpack,
                  st->ldb);
    if (st->k2 > st->K)
        memset(st->bpack + (size_t)st->K * st->ldb, 0, sizeof(int16_t) * st->ldb);
    if ((rc = read_vectors(c, st, st->N)) || (rc = read_act(c, st)))
        return rc;
    if (c->n_in > 5 && c->in[5])
        return tq_op_fail(c, TQ_EUNSUPPORTED, "a residual input is only fused into DynQConv");
    /* the int16 rows only: the input is quantised straight into them */
    c->scratch_bytes = sizeof(int16_t) * (size_t)st->M * (size_t)st->k2;
    int64_t od[TQ_MAX_RANK];
    memcpy(od, x->dims, sizeof od);
    od[x->rank - 1] = st->N;
    tq_value_set_shape(c->out[0], TQ_FLOAT, x->rank, od);
    return TQ_OK;
}

static int dmm_eval(tq_op_ctx *c)
{
    dyn_state *st = c->state;
    const tq_qdsp *d = tq_qdsp_get();
    int16_t *apack = c->scratch;
    float xs;
    int xzp;
    input_qparams(c, st, d, &xs, &xzp);
    /* rows of q - zp as int16 straight from the floats (the bytes of
     * DynamicQuantizeLinear never stored), K padded to k2 with zeros (even
     * K: the rows are back to back, one call for all) */
    const float *x = c->in[0]->data;
    if (st->k2 == st->K) {
        d->quantize_s16(x, (size_t)(st->M * st->K), xs, xzp, apack);
    } else {
        for (int64_t m = 0; m < st->M; m++) {
            int16_t *row = apack + m * st->k2;
            d->quantize_s16(x + m * st->K, (size_t)st->K, xs, xzp, row);
            row[st->K] = 0;
        }
    }
    int32_t *acc = c->out[0]->data;
    d->qgemm((int)st->M, (int)st->N, st->k2, apack, (size_t)st->k2, st->bpack, st->ldb, NULL,
             acc, (size_t)st->N);
    for (int64_t n = 0; n < st->N; n++)
        st->sprod[n] = xs * st->w_scale[n];
    /* Cast -> Mul -> [Add bias] -> [Relu | Clip], in place, with the
     * output's min / max for a fused consumer (emit_range); one output
     * column (a regressor's head) is one run of M values with one scale */
    float mn = INFINITY, mx = -INFINITY;
    if (st->N == 1 && st->emit_range)
        d->epilogue_rows_mm(acc, 1, (int)st->M, (size_t)st->M, st->sprod, st->bias, NULL, 0,
                            &st->act, &mn, &mx);
    else if (st->N == 1)
        d->epilogue_rows(acc, 1, (int)st->M, (size_t)st->M, st->sprod, st->bias, NULL, 0,
                         &st->act);
    else
        d->epilogue_cols(acc, (int)st->M, (int)st->N, (size_t)st->N, st->sprod, st->bias,
                         &st->act, st->emit_range ? &mn : NULL, st->emit_range ? &mx : NULL);
    c->out[0]->has_range = st->emit_range;
    c->out[0]->range_min = mn;
    c->out[0]->range_max = mx;
    return TQ_OK;
}

const tq_op_def tq_op_fused_dyn_conv = { "tinyq", "DynQConv", dconv_prepare, dconv_eval,
                                         dyn_release };
const tq_op_def tq_op_fused_dyn_matmul = { "tinyq", "DynQMatMul", dmm_prepare, dmm_eval,
                                           dyn_release };
