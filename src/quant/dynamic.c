/* Dynamic quantisation: ONNX Runtime's QOperator dynamic graph.
 *
 *   X -> DynamicQuantizeLinear -> (xq, xs, xzp)
 *   MatMulInteger(xq, Wq, xzp, Wzp) | ConvInteger(...) -> Cast(float)
 *     -> Mul(., xs * Ws) [-> Add(bias)]
 *
 * Weights are int8 symmetric (zero point 0), per tensor or per output
 * channel. Gemm is first expressed as MatMul(A, alpha * B') + beta * C with B
 * transposed when transB, which ORT does too. Activations are uint8 (the only
 * output type of DynamicQuantizeLinear). One DynamicQuantizeLinear per
 * activation, shared by every quantised consumer. */
#include <stdlib.h>
#include <string.h>

#include "quant/qparams.h"
#include "quant/quant_internal.h"
#include "quant/rewriter.h"
#include "util/error.h"

typedef struct dq_entry {
    char *x, *xq, *xs, *xzp;
} dq_entry;

typedef struct dyn_ctx {
    tq_rewriter rw;
    const tq_quant_settings *s;
    dq_entry *dq;
    int n_dq;
} dyn_ctx;

static const char *base_of(const tq_node *n)
{
    return n->name && n->name[0] ? n->name : n->outputs[0];
}

/* The DynamicQuantizeLinear outputs for activation x, emitting it on first use. */
static const dq_entry *quantized_activation(dyn_ctx *c, const char *x)
{
    for (int i = 0; i < c->n_dq; i++)
        if (strcmp(c->dq[i].x, x) == 0)
            return &c->dq[i];
    dq_entry *p = realloc(c->dq, (size_t)(c->n_dq + 1) * sizeof(*p));
    if (!p)
        goto nomem;
    c->dq = p;
    dq_entry *e = &p[c->n_dq];
    char *tag = tq_rw_tag(&c->rw);
    e->x = strdup(x);
    e->xq = tag ? tq_rw_name(&c->rw, tag, "_xq") : NULL;
    e->xs = tag ? tq_rw_name(&c->rw, tag, "_xs") : NULL;
    e->xzp = tag ? tq_rw_name(&c->rw, tag, "_xzp") : NULL;
    char *node = tag ? tq_rw_name(&c->rw, tag, "_dql") : NULL;
    free(tag);
    c->n_dq++;
    if (!e->x || !e->xq || !e->xs || !e->xzp || !node) {
        free(node);
        goto nomem;
    }
    const char *outs[3] = {e->xq, e->xs, e->xzp};
    tq_node *n = tq_rw_emit(&c->rw, "DynamicQuantizeLinear", node, 1, &x, 3, outs);
    free(node);
    return n ? e : NULL;
nomem:
    tq_fail(c->rw.err, TQ_ENOMEM, "out of memory quantising '%s'", x);
    return NULL;
}

/* Quantise w (already laid out as the integer op reads it) and add Wq, Ws, Wzp.
 * scale_rank/scale_dims shape the per-channel scale so it broadcasts over the
 * integer op's output; zp_channels > 0 gives a per-column zero-point vector. */
typedef struct qweight {
    const char *q, *scale, *zp;
} qweight;

static int add_quantized_weight(dyn_ctx *c, const tq_tensor *w, const char *wname, int axis,
                                int scale_rank, const int64_t *scale_dims, int zp_vector,
                                qweight *out)
{
    tq_error *err = c->rw.err;
    int64_t numel = tq_tensor_numel(w);
    int64_t channels = axis >= 0 ? w->dims[axis] : 1;
    int8_t *q = malloc((size_t)(numel > 0 ? numel : 1));
    float *scales = malloc((size_t)channels * sizeof(float));
    int8_t *zeros = calloc((size_t)channels, 1);
    int rc = TQ_OK;
    if (!q || !scales || !zeros)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory quantising weight '%s'", wname);
    if (!rc)
        rc = tq_quantize_weight_s8(w, axis, c->s->reduce_range != 0, q, scales, err);
    int rank = w->rank;
    int64_t dims[TQ_MAX_RANK];
    memcpy(dims, w->dims, sizeof(dims));
    if (!rc) {
        /* w may point into the initializer array, which grows below. */
        out->q = tq_rw_initializer(&c->rw, wname, "_q", TQ_INT8, rank, dims, q);
        out->scale = out->q ? tq_rw_initializer(&c->rw, wname, "_s", TQ_FLOAT,
                                                axis >= 0 ? scale_rank : 0, scale_dims, scales)
                            : NULL;
        int64_t zdim = channels;
        out->zp = out->scale ? tq_rw_initializer(&c->rw, wname, "_zp", TQ_INT8,
                                                 axis >= 0 && zp_vector ? 1 : 0, &zdim, zeros)
                             : NULL;
        if (!out->zp)
            rc = TQ_ENOMEM;
    }
    free(q);
    free(scales);
    free(zeros);
    return rc;
}

/* The common tail: integer op -> Cast -> Mul(xs * Ws) [-> Add bias]. */
static int emit_chain(dyn_ctx *c, tq_node *orig, const char *int_op, const dq_entry *x,
                      const qweight *w, const char *bias, int out_rank)
{
    tq_rewriter *rw = &c->rw;
    const char *base = base_of(orig);
    const char *y = orig->outputs[0];
    char *tag = tq_rw_tag(rw);
    if (!tag)
        return tq_fail(rw->err, TQ_ENOMEM, "out of memory quantising node '%s'", base);
    char *scales_node = tq_rw_name(rw, tag, "_smul");
    char *scales = tq_rw_name(rw, tag, "_ws");
    char *yi = tq_rw_name(rw, tag, "_i32");
    char *yc = tq_rw_name(rw, tag, "_f32");
    /* The integer node keeps the original node's name: users find it. */
    char *int_node = orig->name && orig->name[0] ? strdup(orig->name) : tq_rw_name(rw, tag, "_int");
    char *cast_node = tq_rw_name(rw, tag, "_cast");
    char *mul_node = tq_rw_name(rw, tag, "_mul");
    char *ymul = bias ? tq_rw_name(rw, tag, "_scaled") : strdup(y);
    int rc = TQ_OK;
    if (!scales_node || !scales || !yi || !yc || !int_node || !cast_node || !mul_node || !ymul) {
        rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory quantising node '%s'", base);
        goto done;
    }
    const char *sin[2] = {x->xs, w->scale};
    const char *iin[4] = {x->xq, w->q, x->xzp, w->zp};
    const char *min[2] = {yc, scales};
    tq_node *n;
    if (!tq_rw_emit(rw, "Mul", scales_node, 2, sin, 1, (const char *const *)&scales) ||
        !(n = tq_rw_emit(rw, int_op, int_node, 4, iin, 1, (const char *const *)&yi))) {
        rc = TQ_ENOMEM;
        goto done;
    }
    if (strcmp(int_op, "ConvInteger") == 0) {
        /* ConvInteger takes Conv's geometry attributes unchanged. */
        n->attrs = orig->attrs;
        n->n_attrs = orig->n_attrs;
        orig->attrs = NULL;
        orig->n_attrs = 0;
    }
    tq_node *cast = tq_rw_emit(rw, "Cast", cast_node, 1, (const char *const *)&yi, 1,
                               (const char *const *)&yc);
    tq_attr *to = cast ? tq_node_add_attr(cast, "to", TQ_ATTR_INT) : NULL;
    if (!to || !tq_rw_emit(rw, "Mul", mul_node, 2, min, 1, (const char *const *)&ymul)) {
        rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory quantising node '%s'", base);
        goto done;
    }
    to->i = TQ_FLOAT;
    if (bias) {
        const char *bias_in = bias;
        char *reshaped = NULL, *reshape_node = NULL;
        if (out_rank > 2) {
            /* Conv bias [M] must broadcast over [N, M, spatial...]. */
            int64_t shape[TQ_MAX_RANK] = {1, -1, 1, 1, 1, 1, 1, 1};
            int64_t rank = out_rank;
            const char *shape_name = tq_rw_initializer(rw, tag, "_bshape", TQ_INT64, 1,
                                                       &rank, shape);
            reshaped = tq_rw_name(rw, tag, "_b");
            reshape_node = tq_rw_name(rw, tag, "_reshape");
            const char *rin[2] = {bias, shape_name};
            if (!shape_name || !reshaped || !reshape_node ||
                !tq_rw_emit(rw, "Reshape", reshape_node, 2, rin, 1, (const char *const *)&reshaped))
                rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory quantising node '%s'", base);
            bias_in = reshaped;
        }
        char *add_node = rc ? NULL : tq_rw_name(rw, tag, "_add");
        const char *ain[2] = {ymul, bias_in};
        if (!rc && (!add_node || !tq_rw_emit(rw, "Add", add_node, 2, ain, 1, &y)))
            rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory quantising node '%s'", base);
        free(add_node);
        free(reshaped);
        free(reshape_node);
    }
done:
    free(tag);
    free(scales_node);
    free(scales);
    free(yi);
    free(yc);
    free(int_node);
    free(cast_node);
    free(mul_node);
    free(ymul);
    return rc;
}

/* MatMul / Gemm with a constant 2-D weight. Returns 1 rewritten, 0 left as is. */
static int rewrite_matmul(dyn_ctx *c, tq_node *n)
{
    tq_graph *g = c->rw.g;
    bool gemm = strcmp(n->op_type, "Gemm") == 0;
    const tq_tensor *b = tq_quant_float_init(g, n, 1);
    if (!b || b->rank != 2 || n->n_inputs < 2 || tq_graph_find_initializer(g, n->inputs[0]))
        return 0;
    float alpha = 1.0f, beta = 1.0f;
    bool trans_b = false;
    const char *bias = NULL;
    if (gemm) {
        if (tq_node_attr_int(n, "transA", 0))
            return 0;
        alpha = tq_node_attr_float(n, "alpha", 1.0f);
        beta = tq_node_attr_float(n, "beta", 1.0f);
        trans_b = tq_node_attr_int(n, "transB", 0) != 0;
        if (n->n_inputs > 2 && n->inputs[2][0]) {
            bias = n->inputs[2];
            if (beta != 1.0f && !tq_quant_float_init(g, n, 2))
                return 0; /* would need a run-time Mul; keep fp32 */
        }
    }
    /* W = alpha * (transB ? B^T : B), laid out [K, N] for MatMulInteger. */
    int64_t k = trans_b ? b->dims[1] : b->dims[0], cols = trans_b ? b->dims[0] : b->dims[1];
    tq_tensor w = {.name = b->name, .dtype = TQ_FLOAT, .rank = 2, .dims = {k, cols}};
    w.nbytes = (size_t)(k * cols) * sizeof(float);
    w.data = malloc(w.nbytes ? w.nbytes : 1);
    char *wname = strdup(b->name);
    char *scaled_bias = NULL;
    int rc = TQ_OK;
    if (!w.data || !wname) {
        rc = tq_fail(c->rw.err, TQ_ENOMEM, "out of memory quantising node '%s'", base_of(n));
        goto done;
    }
    const float *src = b->data;
    float *dst = w.data;
    for (int64_t r = 0; r < k; r++)
        for (int64_t col = 0; col < cols; col++)
            dst[r * cols + col] = alpha * (trans_b ? src[col * k + r] : src[r * cols + col]);
    if (bias && beta != 1.0f) {
        const tq_tensor *ct = tq_quant_float_init(g, n, 2);
        int64_t cn = tq_tensor_numel(ct);
        float *cv = malloc((size_t)(cn > 0 ? cn : 1) * sizeof(float));
        int64_t cdims[TQ_MAX_RANK];
        int crank = ct->rank;
        memcpy(cdims, ct->dims, sizeof(cdims));
        char *cname = strdup(ct->name);
        if (cv && cname)
            for (int64_t i = 0; i < cn; i++)
                cv[i] = beta * ((const float *)ct->data)[i];
        const char *nm = cv && cname ? tq_rw_initializer(&c->rw, cname, "_scaled", TQ_FLOAT, crank,
                                                         cdims, cv)
                                     : NULL;
        free(cv);
        free(cname);
        if (!nm) {
            rc = tq_fail(c->rw.err, TQ_ENOMEM, "out of memory quantising node '%s'", base_of(n));
            goto done;
        }
        scaled_bias = strdup(nm);
        bias = scaled_bias;
        if (!bias) {
            rc = tq_fail(c->rw.err, TQ_ENOMEM, "out of memory");
            goto done;
        }
    }
    const dq_entry *x = quantized_activation(c, n->inputs[0]);
    if (!x) {
        rc = TQ_ENOMEM;
        goto done;
    }
    qweight qw;
    int axis = c->s->per_channel ? 1 : -1;
    rc = add_quantized_weight(c, &w, wname, axis, 1, &cols, 1, &qw);
    if (!rc)
        rc = emit_chain(c, n, "MatMulInteger", x, &qw, bias, 2);
    if (!rc)
        rc = 1;
done:
    free(w.data);
    free(wname);
    free(scaled_bias);
    return rc;
}

static int rewrite_conv(dyn_ctx *c, tq_node *n)
{
    tq_graph *g = c->rw.g;
    const tq_tensor *wt = tq_quant_float_init(g, n, 1);
    if (!wt || wt->rank < 3 || tq_graph_find_initializer(g, n->inputs[0]))
        return 0;
    const char *bias = n->n_inputs > 2 && n->inputs[2][0] ? n->inputs[2] : NULL;
    tq_tensor w = *wt; /* shallow: quantised before the initializer array grows */
    char *wname = strdup(wt->name);
    if (!wname)
        return tq_fail(c->rw.err, TQ_ENOMEM, "out of memory");
    const dq_entry *x = quantized_activation(c, n->inputs[0]);
    int rc = x ? TQ_OK : TQ_ENOMEM;
    /* Per-channel scale shaped [M, 1, ...] so it broadcasts over [N, M, ...];
     * the zero point stays a scalar 0 (all ConvInteger kernels accept it). */
    int64_t sdims[TQ_MAX_RANK];
    sdims[0] = wt->dims[0];
    for (int d = 1; d < wt->rank - 1; d++)
        sdims[d] = 1;
    int out_rank = wt->rank;
    qweight qw;
    if (!rc) {
        /* Copy the weight: adding initializers may move wt's storage. */
        w.data = malloc(wt->nbytes ? wt->nbytes : 1);
        if (!w.data)
            rc = tq_fail(c->rw.err, TQ_ENOMEM, "out of memory");
        else
            memcpy(w.data, wt->data, wt->nbytes);
    } else {
        w.data = NULL;
    }
    if (!rc)
        rc = add_quantized_weight(c, &w, wname, c->s->per_channel ? 0 : -1, wt->rank - 1, sdims,
                                  0, &qw);
    free(w.data);
    if (!rc)
        rc = emit_chain(c, n, "ConvInteger", x, &qw, bias, out_rank);
    free(wname);
    return rc ? rc : 1;
}

int tq_quantize_dynamic(tq_model *m, const tq_quant_settings *s, tq_quant_summary *sum,
                        tq_error *err)
{
    dyn_ctx c = {.s = s};
    tq_rw_begin(&c.rw, m, err);
    int rc = TQ_OK;
    for (int i = 0; i < c.rw.n_old && !rc; i++) {
        tq_node *n = &c.rw.old[i];
        int done = 0;
        if (tq_quant_selected(s, n)) {
            if (strcmp(n->op_type, "MatMul") == 0 || strcmp(n->op_type, "Gemm") == 0)
                done = rewrite_matmul(&c, n);
            else if (strcmp(n->op_type, "Conv") == 0)
                done = rewrite_conv(&c, n);
            if (done < 0) {
                rc = done;
                break;
            }
            if (done)
                sum->n_nodes_quantized++;
            else
                sum->n_nodes_skipped++;
        }
        if (done)
            tq_node_clear(n);
        else
            rc = tq_rw_keep(&c.rw, i);
    }
    tq_rw_end(&c.rw);
    for (int i = 0; i < c.n_dq; i++) {
        free(c.dq[i].x);
        free(c.dq[i].xq);
        free(c.dq[i].xs);
        free(c.dq[i].xzp);
    }
    free(c.dq);
    if (!rc)
        tq_graph_prune(&m->graph);
    return rc;
}
