/* Static quantisation: a QDQ graph (QuantizeLinear/DequantizeLinear pairs),
 * ONNX Runtime's default static format.
 *
 * Every quantised node (Conv, ConvTranspose, Gemm, MatMul with a constant
 * float weight) gets its activation input and its output through a Q/DQ pair
 * with calibrated asymmetric int8/uint8 parameters, its weight as an int8
 * symmetric initializer behind a DequantizeLinear (per tensor or per channel
 * on the op's output-channel axis) and its bias as int32 (scale = input scale
 * x weight scale, zero point 0). A tensor gets one Q/DQ pair however many
 * nodes read it; all readers see the dequantised value, as in ORT.
 * Relu after a quantised node is folded into the output's quantisation (the
 * Relu's output range has min 0, so the clamp of QuantizeLinear does its
 * job); a Clip keeps its node but its input takes the Clip's output range.
 * With float_outputs only the inputs of quantised nodes get Q/DQ pairs and
 * only those inputs read them: other readers of the same tensor (a skip Add)
 * keep the float value, as in the dynamic graph; no Relu is folded then.
 * With per_channel_activations a quantised node's activation input gets a
 * per-axis pair (1-D scale and zero point, `axis` = the axis its weight's
 * input channels multiply) and that node's bias stays float; outputs that
 * no quantised node reads stay per tensor. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_query.h"
#include "quant/qparams.h"
#include "quant/quant_internal.h"
#include "quant/rewriter.h"
#include "util/error.h"

typedef struct act {
    char *name;        /* the value readers see after the rewrite */
    char *range_name;  /* the tensor whose calibrated range it takes */
    int axis_req;      /* per_channel_activations: the reader's channel axis */
    tq_qparams p;      /* per tensor */
    int axis;          /* n_ch > 0: per-axis Q/DQ along this axis */
    int64_t n_ch;
    tq_qparams *pc;    /* [n_ch] */
} act;

typedef struct qdq_ctx {
    tq_rewriter rw;
    const tq_quant_settings *s;
    tq_dtype at;       /* activation type */
    act *acts;
    int n_acts;
    int *fused_relu;   /* per original node: index of a folded Relu, or -1 */
    bool *selected;
    bool *dropped;
    int *x_act;        /* per original node: act index of its activation input */
} qdq_ctx;

static bool eligible(const tq_graph *g, const tq_node *n)
{
    if (n->n_inputs < 2 || n->n_outputs < 1 || !n->inputs[0][0] ||
        tq_graph_find_initializer(g, n->inputs[0]))
        return false;
    const tq_tensor *w = tq_quant_float_init(g, n, 1);
    if (!w)
        return false;
    if (tq_node_is_onnx(n, "Conv") || tq_node_is_onnx(n, "ConvTranspose"))
        return w->rank >= 3;
    if (tq_node_is_onnx(n, "Gemm") || tq_node_is_onnx(n, "MatMul"))
        return w->rank == 2;
    return false;
}

static int add_act(qdq_ctx *c, const char *name, const char *range_name)
{
    for (int i = 0; i < c->n_acts; i++)
        if (strcmp(c->acts[i].name, name) == 0)
            return TQ_OK;
    act *p = realloc(c->acts, (size_t)(c->n_acts + 1) * sizeof(*p));
    if (!p)
        return tq_fail(c->rw.err, TQ_ENOMEM, "out of memory");
    c->acts = p;
    act *a = &p[c->n_acts++];
    memset(a, 0, sizeof(*a));
    a->axis_req = TQ_CALIB_PER_TENSOR;
    a->name = strdup(name);
    a->range_name = strdup(range_name);
    if (!a->name || !a->range_name)
        return tq_fail(c->rw.err, TQ_ENOMEM, "out of memory");
    return TQ_OK;
}

static const act *find_act(const qdq_ctx *c, const char *name)
{
    for (int i = 0; i < c->n_acts; i++)
        if (strcmp(c->acts[i].name, name) == 0)
            return &c->acts[i];
    return NULL;
}

/* The channel axis of a quantised node's activation input: the axis its
 * weight's input-channel (K) dimension multiplies. Conv: 1 (NCHW); Gemm: the
 * feature axis of A (0 with transA); MatMul: the last axis. */
static int input_channel_axis(const tq_node *n)
{
    if (tq_node_is_onnx(n, "Gemm"))
        return tq_node_attr_int(n, "transA", 0) ? 0 : 1;
    if (tq_node_is_onnx(n, "MatMul"))
        return -1;
    return 1;
}

static int act_index(const qdq_ctx *c, const char *name)
{
    for (int a = 0; a < c->n_acts; a++)
        if (strcmp(c->acts[a].name, name) == 0)
            return a;
    return -1;
}

/* per_channel_activations: every act that a quantised node reads as its
 * activation input is calibrated and quantised per channel along that
 * node's input-channel axis, except
 * - around a Conv/ConvTranspose whose output gets its Q/DQ pair right after
 *   it (always without float_outputs; with them, when a quantised node reads
 *   that output directly): ONNX Runtime fuses DQ -> Conv -> Q into
 *   QLinearConv whatever the parameters' shapes, and QLinearConv then
 *   rejects per-axis activation parameters at run time, so that node's input
 *   and its output pair stay per tensor;
 * - MatMul inputs: ONNX Runtime fuses DQ -> MatMul into QLinearMatMul or
 *   MatMulIntegerToFloat, which reject them too (Gemm's fusion checks the
 *   shapes and runs a per-axis pair unfused);
 * - tensors whose readers disagree on the axis (never seen in practice). */
static int input_axes(qdq_ctx *c, const tq_graph *g)
{
    bool *per_tensor = calloc((size_t)(c->n_acts > 0 ? c->n_acts : 1), sizeof(bool));
    if (!per_tensor)
        return tq_fail(c->rw.err, TQ_ENOMEM, "out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        if (!c->selected[i])
            continue;
        const tq_node *n = &g->nodes[i];
        int ax = input_channel_axis(n), a = act_index(c, n->inputs[0]);
        if (a < 0)
            continue;
        act *ac = &c->acts[a];
        if (ac->axis_req != TQ_CALIB_PER_TENSOR && ac->axis_req != ax)
            per_tensor[a] = true;
        ac->axis_req = ax;
        const char *y = c->fused_relu[i] >= 0 ? g->nodes[c->fused_relu[i]].outputs[0]
                                              : n->outputs[0];
        int ya = act_index(c, y);
        if (ya >= 0 && !tq_node_is_onnx(n, "Gemm"))
            per_tensor[a] = per_tensor[ya] = true;
        if (tq_node_is_onnx(n, "MatMul"))
            per_tensor[a] = true;
    }
    for (int a = 0; a < c->n_acts; a++)
        if (per_tensor[a])
            c->acts[a].axis_req = TQ_CALIB_PER_TENSOR;
    free(per_tensor);
    return TQ_OK;
}

/* Decide which nodes and tensors get quantised (before calibration: the
 * plan names the tensors whose ranges calibration must collect). */
static int plan(qdq_ctx *c, const tq_graph *g, tq_quant_summary *sum)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const tq_node *n = &g->nodes[i];
        c->fused_relu[i] = -1;
        if (!tq_quant_selected(c->s, n))
            continue;
        if (!eligible(g, n)) {
            sum->n_nodes_skipped++;
            continue;
        }
        c->selected[i] = true;
        sum->n_nodes_quantized++;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!c->selected[i])
            continue;
        const tq_node *n = &g->nodes[i];
        int rc = add_act(c, n->inputs[0], n->inputs[0]);
        for (int a = 0; a < c->n_acts; a++)
            if (strcmp(c->acts[a].name, n->inputs[0]) == 0)
                c->x_act[i] = a;
        const char *y = n->outputs[0];
        if (rc)
            return rc;
        if (c->s->float_outputs)
            continue; /* readers that are quantised nodes add it as their input */
        int r = tq_graph_sole_consumer(g, y);
        const tq_node *rd = r >= 0 ? &g->nodes[r] : NULL;
        if (!rc && rd && tq_node_is_onnx(rd, "Relu") && !c->selected[r]) {
            c->fused_relu[i] = r;
            c->dropped[r] = true;
            rc = add_act(c, rd->outputs[0], rd->outputs[0]);
        } else if (!rc && rd && tq_node_is_onnx(rd, "Clip")) {
            rc = add_act(c, y, rd->outputs[0]);
        } else if (!rc) {
            rc = add_act(c, y, y);
        }
        if (rc)
            return rc;
    }
    return c->s->per_channel_activations ? input_axes(c, g) : TQ_OK;
}

/* Emit src -> QuantizeLinear -> DequantizeLinear -> dst with a's parameters
 * (per axis when a->n_ch > 0: 1-D scale and zero point, `axis` on both). */
static int emit_qdq(qdq_ctx *c, const act *a, const char *src, const char *dst)
{
    tq_rewriter *rw = &c->rw;
    int64_t n = a->n_ch > 0 ? a->n_ch : 1;
    uint8_t *zp_bytes = malloc((size_t)n);
    float *scales = malloc((size_t)n * sizeof(float));
    for (int64_t k = 0; zp_bytes && scales && k < n; k++) {
        tq_qparams p = a->n_ch > 0 ? a->pc[k] : a->p;
        scales[k] = p.scale;
        zp_bytes[k] = c->at == TQ_UINT8 ? (uint8_t)p.zero_point : (uint8_t)(int8_t)p.zero_point;
    }
    int srank = a->n_ch > 0 ? 1 : 0;
    char *tag = zp_bytes && scales ? tq_rw_tag(rw) : NULL;
    const char *scale = tag ? tq_rw_initializer(rw, tag, "_s", TQ_FLOAT, srank, &n, scales) : NULL;
    char *scale_c = scale ? strdup(scale) : NULL;
    const char *zp = scale_c ? tq_rw_initializer(rw, tag, "_zp", c->at, srank, &n, zp_bytes)
                             : NULL;
    char *zp_c = zp ? strdup(zp) : NULL;
    char *q = tag ? tq_rw_name(rw, tag, "_q") : NULL;
    /* Generated Q/DQ nodes stay unnamed: in a model of a few thousand
     * parameters their names would cost more than the weights saved. */
    char *qn = strdup("");
    char *dqn = strdup("");
    free(tag);
    free(zp_bytes);
    free(scales);
    int rc = TQ_OK;
    if (!zp_c || !q || !qn || !dqn) {
        rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory quantising '%s'", a->name);
    } else {
        const char *qin[3] = {src, scale_c, zp_c};
        const char *dqin[3] = {q, scale_c, zp_c};
        tq_node *nq = tq_rw_emit(rw, "QuantizeLinear", qn, 3, qin, 1, (const char *const *)&q);
        tq_attr *aq = nq && a->n_ch > 0 ? tq_node_add_attr(nq, "axis", TQ_ATTR_INT) : NULL;
        if (aq)
            aq->i = a->axis;
        tq_node *ndq = nq && (aq || a->n_ch == 0)
                           ? tq_rw_emit(rw, "DequantizeLinear", dqn, 3, dqin, 1, &dst)
                           : NULL;
        tq_attr *adq = ndq && a->n_ch > 0 ? tq_node_add_attr(ndq, "axis", TQ_ATTR_INT) : NULL;
        if (adq)
            adq->i = a->axis;
        if (!ndq || (a->n_ch > 0 && !adq))
            rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory quantising '%s'", a->name);
    }
    free(scale_c);
    free(zp_c);
    free(q);
    free(qn);
    free(dqn);
    return rc;
}

/* Constant int tensor -> DequantizeLinear -> fresh name; sets *out (malloc'ed). */
static int emit_const_dq(qdq_ctx *c, const char *base, tq_dtype qt, int rank, const int64_t *dims,
                         const void *q, const float *scales, int64_t n_scales, int axis,
                         char **out)
{
    tq_rewriter *rw = &c->rw;
    void *zeros = calloc((size_t)(n_scales > 0 ? n_scales : 1), tq_dtype_size(qt));
    int srank = axis >= 0 ? 1 : 0;
    const char *qn = zeros ? tq_rw_initializer(rw, base, "_q", qt, rank, dims, q) : NULL;
    char *qn_c = qn ? strdup(qn) : NULL;
    const char *sn = qn_c ? tq_rw_initializer(rw, base, "_s", TQ_FLOAT, srank, &n_scales, scales)
                          : NULL;
    char *sn_c = sn ? strdup(sn) : NULL;
    /* int32 (bias) zero points are 0 by definition: leave the input out. */
    const char *zn = !sn_c ? NULL : qt == TQ_INT32 ? ""
                                  : tq_rw_initializer(rw, base, "_zp", qt, srank, &n_scales, zeros);
    char *zn_c = zn ? strdup(zn) : NULL;
    char *node = strdup("");
    *out = tq_rw_name(rw, base, "_dq");
    int rc = TQ_OK;
    tq_node *n = NULL;
    if (zn_c && node && *out) {
        const char *in[3] = {qn_c, sn_c, zn_c};
        n = tq_rw_emit(rw, "DequantizeLinear", node, zn_c[0] ? 3 : 2, in, 1,
                       (const char *const *)out);
    }
    tq_attr *ax = n && axis >= 0 ? tq_node_add_attr(n, "axis", TQ_ATTR_INT) : NULL;
    if (!n || (axis >= 0 && !ax))
        rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory quantising '%s'", base);
    else if (ax)
        ax->i = axis;
    free(zeros);
    free(qn_c);
    free(sn_c);
    free(zn_c);
    free(node);
    return rc;
}

static int replace_input(tq_node *n, int k, char *name)
{
    free(n->inputs[k]);
    n->inputs[k] = name;
    return TQ_OK;
}

/* Weight and bias of a selected node -> constants behind DequantizeLinear. */
static int quantize_params(qdq_ctx *c, tq_node *n, const act *xa)
{
    tq_rewriter *rw = &c->rw;
    const tq_tensor *wt = tq_quant_float_init(rw->g, n, 1);
    int axis = c->s->per_channel ? tq_quant_weight_axis(n) : -1;
    if (axis >= 0 && tq_node_is_onnx(n, "ConvTranspose") && tq_node_attr_int(n, "group", 1) != 1)
        axis = -1; /* grouped ConvTranspose: dims[1] is per group, not per output channel */
    /* wt points into the initializer array, which grows below: read it now. */
    tq_tensor w = *wt;
    int64_t out_ch = tq_node_is_onnx(n, "ConvTranspose") ? wt->dims[1] * tq_node_attr_int(n, "group", 1)
                     : tq_node_is_onnx(n, "Gemm") ? (tq_node_attr_int(n, "transB", 0) ? wt->dims[0]
                                                                             : wt->dims[1])
                     : wt->dims[0];
    int64_t numel = tq_tensor_numel(wt);
    int64_t nch = axis >= 0 ? wt->dims[axis] : 1;
    int8_t *q = malloc((size_t)(numel > 0 ? numel : 1));
    float *ws = malloc((size_t)nch * sizeof(float));
    char *wname = strdup(wt->name);
    char *dq_out = NULL;
    int rc = q && ws && wname ? TQ_OK : tq_fail(rw->err, TQ_ENOMEM, "out of memory");
    if (!rc)
        rc = tq_quantize_weight_s8(&w, axis, c->s->reduce_range != 0, q, ws, rw->err);
    if (!rc)
        rc = emit_const_dq(c, wname, TQ_INT8, w.rank, w.dims, q, ws, nch, axis, &dq_out);
    if (!rc)
        replace_input(n, 1, dq_out), dq_out = NULL;
    free(dq_out);
    free(q);
    free(wname);
    /* Bias: 1-D, one value per output channel. */
    const tq_tensor *bt = rc ? NULL : tq_quant_float_init(rw->g, n, 2);
    if (bt && xa && bt->rank == 1 && bt->dims[0] == out_ch && !tq_node_is_onnx(n, "MatMul")) {
        int64_t nb = bt->dims[0];
        float *bs = malloc((size_t)nb * sizeof(float));
        int32_t *bq = malloc((size_t)nb * sizeof(int32_t));
        char *bname = strdup(bt->name);
        bool ok = bs && bq && bname;
        for (int64_t k = 0; ok && k < nb; k++) {
            bs[k] = xa->p.scale * ws[axis >= 0 ? k % nch : 0];
            if (!(bs[k] >= FLT_MIN) || !isfinite(((const float *)bt->data)[k]))
                ok = false; /* degenerate scale: keep the bias in float */
            else
                bq[k] = tq_quantize_bias_value(((const float *)bt->data)[k], bs[k]);
        }
        if (ok) {
            int64_t dim = nb;
            /* per tensor: one scale, stored as a scalar */
            rc = emit_const_dq(c, bname, TQ_INT32, 1, &dim, bq, bs, axis >= 0 ? nb : 1,
                               axis >= 0 ? 0 : -1, &dq_out);
            if (!rc)
                replace_input(n, 2, dq_out), dq_out = NULL;
        } else if (!bs || !bq || !bname) {
            rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory");
        }
        free(bs);
        free(bq);
        free(bname);
    }
    free(ws);
    return rc;
}

/* float_outputs: point the inputs of the not-yet-moved original nodes after
 * `after` that are not quantised nodes from `from` (the dequantised value) to
 * `to` (the float value), so only quantised nodes read the Q/DQ pair. */
static int unquantised_readers_use(qdq_ctx *c, int after, const char *from, const char *to)
{
    for (int j = after + 1; j < c->rw.n_old; j++) {
        tq_node *n = &c->rw.old[j];
        for (int k = 0; k < n->n_inputs; k++) {
            if (strcmp(n->inputs[k], from) != 0 || (c->selected[j] && k == 0))
                continue;
            char *d = strdup(to);
            if (!d)
                return tq_fail(c->rw.err, TQ_ENOMEM, "out of memory");
            free(n->inputs[k]);
            n->inputs[k] = d;
        }
    }
    return TQ_OK;
}

static int rewrite(qdq_ctx *c)
{
    tq_rewriter *rw = &c->rw;
    int rc = TQ_OK;
    /* Graph inputs first: their Q/DQ pair opens the node list. */
    for (int a = 0; a < c->n_acts && !rc; a++) {
        const act *ac = &c->acts[a];
        bool produced = false;
        for (int i = 0; i < rw->n_old && !produced; i++)
            for (int k = 0; k < rw->old[i].n_outputs; k++)
                produced |= strcmp(rw->old[i].outputs[k], ac->name) == 0;
        for (int i = 0; i < rw->n_old && !produced; i++)
            if (c->fused_relu[i] >= 0 &&
                strcmp(rw->old[c->fused_relu[i]].outputs[0], ac->name) == 0)
                produced = true;
        if (produced)
            continue;
        char *dst = tq_rw_name(rw, ac->name, "_dq");
        /* Readers switch to the dequantised value before the pair exists, so
         * the pair's own QuantizeLinear keeps reading the graph input. */
        rc = dst ? tq_rw_rename_inputs(rw, -1, ac->name, dst)
                 : tq_fail(rw->err, TQ_ENOMEM, "out of memory");
        if (!rc)
            rc = emit_qdq(c, ac, ac->name, dst);
        if (!rc && c->s->float_outputs)
            rc = unquantised_readers_use(c, -1, dst, ac->name);
        free(dst);
    }
    for (int i = 0; i < rw->n_old && !rc; i++) {
        tq_node *n = &rw->old[i];
        if (c->dropped[i]) {
            tq_node_clear(n);
            continue;
        }
        if (c->fused_relu[i] >= 0) {
            /* The folded Relu's output is now produced by this node's Q/DQ. */
            char *z = strdup(rw->old[c->fused_relu[i]].outputs[0]);
            if (!z)
                return tq_fail(rw->err, TQ_ENOMEM, "out of memory");
            free(n->outputs[0]);
            n->outputs[0] = z;
        }
        /* A per-channel input scale has no single bias scale (input scale x
         * weight scale): the bias stays float then. */
        const act *xa = &c->acts[c->x_act[i]];
        if (c->selected[i])
            rc = quantize_params(c, n, xa->n_ch > 0 ? NULL : xa);
        /* Outputs that are quantised: the node writes "<name>_prequant". */
        char *renamed[8] = {0};
        const act *acts[8] = {0};
        for (int k = 0; k < n->n_outputs && k < 8 && !rc; k++) {
            const act *a = n->outputs[k][0] ? find_act(c, n->outputs[k]) : NULL;
            if (!a)
                continue;
            renamed[k] = tq_rw_name(rw, a->name, "_f");
            acts[k] = a;
            if (!renamed[k])
                rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory");
            else {
                free(n->outputs[k]);
                n->outputs[k] = strdup(renamed[k]);
                if (!n->outputs[k])
                    rc = tq_fail(rw->err, TQ_ENOMEM, "out of memory");
            }
        }
        if (!rc)
            rc = tq_rw_keep(rw, i);
        for (int k = 0; k < 8; k++) {
            if (!rc && acts[k])
                rc = emit_qdq(c, acts[k], renamed[k], acts[k]->name);
            if (!rc && acts[k] && c->s->float_outputs)
                rc = unquantised_readers_use(c, i, acts[k]->name, renamed[k]);
            free(renamed[k]);
        }
    }
    return rc;
}

/* Shape and Size read only the dimensions: a reader of a Q -> DQ pair's
 * output reads the pair's float input instead, so the pair is not evaluated
 * for it (the pair's other readers are fused into integer ops; this one kept
 * a DequantizeLinear of the whole graph input alive in nr_metric_v1). */
static int shape_readers_skip_qdq(tq_graph *g, tq_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        tq_node *n = &g->nodes[i];
        if ((!tq_node_is_onnx(n, "Shape") && !tq_node_is_onnx(n, "Size")) || n->n_inputs < 1)
            continue;
        int dq = tq_graph_producer(g, n->inputs[0]);
        if (dq < 0 || !tq_node_is_onnx(&g->nodes[dq], "DequantizeLinear") ||
            g->nodes[dq].n_inputs < 1)
            continue;
        int q = tq_graph_producer(g, g->nodes[dq].inputs[0]);
        if (q < 0 || !tq_node_is_onnx(&g->nodes[q], "QuantizeLinear") || g->nodes[q].n_inputs < 1)
            continue;
        if (tq_set_name(&n->inputs[0], g->nodes[q].inputs[0]))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    return TQ_OK;
}

static int ctx_init(qdq_ctx *c, tq_model *m, const tq_quant_settings *s, tq_error *err)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->at = s->activation_type;
    c->rw.err = err;
    c->rw.g = &m->graph;
    int nn = m->graph.n_nodes > 0 ? m->graph.n_nodes : 1;
    c->fused_relu = malloc((size_t)nn * sizeof(int));
    c->selected = calloc((size_t)nn, sizeof(bool));
    c->dropped = calloc((size_t)nn, sizeof(bool));
    c->x_act = calloc((size_t)nn, sizeof(int));
    return c->fused_relu && c->selected && c->dropped && c->x_act
               ? TQ_OK
               : tq_fail(err, TQ_ENOMEM, "out of memory");
}

static void ctx_free(qdq_ctx *c)
{
    for (int i = 0; i < c->n_acts; i++) {
        free(c->acts[i].name);
        free(c->acts[i].range_name);
        free(c->acts[i].pc);
    }
    free(c->acts);
    free(c->fused_relu);
    free(c->selected);
    free(c->dropped);
    free(c->x_act);
}

/* Calibrate the planned tensors on npz_path (tq_calibrate: the settings'
 * method, percentile and batch). */
static int calibrate_plan(const qdq_ctx *c, const tq_model *m, const char *npz_path,
                          tq_range_table *ranges, tq_error *err)
{
    const char **names = malloc((size_t)(c->n_acts > 0 ? c->n_acts : 1) * sizeof(char *));
    int *axes = malloc((size_t)(c->n_acts > 0 ? c->n_acts : 1) * sizeof(int));
    if (!names || !axes) {
        free(names);
        free(axes);
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    for (int i = 0; i < c->n_acts; i++) {
        names[i] = c->acts[i].range_name;
        axes[i] = c->acts[i].axis_req;
    }
    /* Calibrate even when nothing is selected: the data must still be valid. */
    int rc = tq_calibrate(m, npz_path, c->s, names, axes, c->n_acts, ranges, err);
    free(names);
    free(axes);
    return rc;
}

/* An act's quantisation parameters from its range: per channel when the
 * range has channels and the act asked for them (per tensor otherwise). */
static int act_qparams(act *a, const tq_range *r, int qmin, int qmax, tq_error *err)
{
    float lo = r ? r->rmin : 0.0f, hi = r ? r->rmax : 0.0f;
    a->p = tq_compute_qparams(lo, hi, qmin, qmax, false);
    if (!r || r->n_ch <= 0 || a->axis_req == TQ_CALIB_PER_TENSOR)
        return TQ_OK;
    a->pc = malloc((size_t)r->n_ch * sizeof(tq_qparams));
    if (!a->pc)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    a->n_ch = r->n_ch;
    a->axis = r->axis;
    for (int64_t k = 0; k < r->n_ch; k++)
        a->pc[k] = tq_compute_qparams(r->cmin[k], r->cmax[k], qmin, qmax, false);
    return TQ_OK;
}

int tq_static_ranges(tq_model *m, const tq_quant_settings *s, const char *npz_path,
                     tq_range_table *ranges, tq_error *err)
{
    memset(ranges, 0, sizeof(*ranges));
    qdq_ctx c;
    tq_quant_summary sum = {0};
    int rc = ctx_init(&c, m, s, err);
    if (!rc)
        rc = plan(&c, &m->graph, &sum);
    if (!rc)
        rc = calibrate_plan(&c, m, npz_path, ranges, err);
    ctx_free(&c);
    return rc;
}

int tq_quantize_static(tq_model *m, const tq_quant_settings *s, const char *npz_path,
                       const tq_range_table *fixed, tq_quant_summary *sum, tq_range_table *ranges,
                       tq_error *err)
{
    tq_graph *g = &m->graph;
    qdq_ctx c;
    int rc = ctx_init(&c, m, s, err);
    if (!rc)
        rc = plan(&c, g, sum);
    if (!rc && fixed) {
        rc = tq_range_table_copy(ranges, fixed, err);
        /* Ranges made for this graph by tq_static_ranges: every planned
         * tensor has one, or the plan and the ranges disagree. */
        for (int i = 0; !rc && i < c.n_acts; i++)
            if (!tq_range_find(fixed, c.acts[i].range_name))
                rc = tq_fail(err, TQ_EINTERNAL, "%s: tensor '%s': no range among the %d given",
                             m->path ? m->path : "model", c.acts[i].range_name, fixed->n);
    } else if (!rc) {
        rc = calibrate_plan(&c, m, npz_path, ranges, err);
    }
    if (!rc) {
        sum->n_calib_samples = ranges->n_samples;
        int qmin, qmax;
        tq_qrange(c.at, false, false, &qmin, &qmax);
        for (int i = 0; !rc && i < c.n_acts; i++)
            rc = act_qparams(&c.acts[i], tq_range_find(ranges, c.acts[i].range_name), qmin, qmax,
                             err);
        if (rc) {
            ctx_free(&c);
            return rc;
        }
        tq_rw_begin(&c.rw, m, err);
        rc = rewrite(&c);
        tq_rw_end(&c.rw);
        if (!rc)
            rc = shape_readers_skip_qdq(g, err);
        if (!rc)
            tq_graph_prune(g);
    }
    ctx_free(&c);
    return rc;
}
