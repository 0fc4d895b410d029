/* The static-QDQ fusion pass (see graph/fuse.h): integer execution of what
 * `tinyq quantize --mode static` (and ONNX Runtime's quantize_static)
 * writes, instead of dequantising to float around every op.
 *
 *   DQ(x) -> Conv(DQ(w) [, DQ(int32 bias)]) -> Q(y)   =>  QLinearConv
 *     (the bias is taken only when its scale is exactly x_scale * w_scale,
 *     which is how quantisers write it; QLinearConv requantises in float
 *     as ONNX Runtime does: qcommon.h)
 *   DQ(x) -> Gemm | MatMul(DQ(w) [, DQ(int32 bias)]) -> Q(y)  =>  tinyq.QGemm
 *   DQ(x) -> Conv | Gemm | MatMul(DQ(w) [, DQ(int32 bias)]) -> y read as float
 *     =>  tinyq.QConvF / tinyq.QGemmF (--float-outputs: the integer op with a
 *     dequantising epilogue; runtime/ops/qconv_float.c, fused_qdq.c)
 *   either group's Q(y) -> DQ -> Relu | Clip -> Q(y') with the same scale and
 *     zero point joins the group when the activation provably changes no
 *     quantised value (its bounds lie outside what Q's saturation keeps:
 *     redundant_tail), as the quantiser writes Conv -> Clip (ReLU6)
 *   DQ(a) [-> BN] [+ DQ(b) [-> BN]] [-> Relu|Clip] [-> Q]  =>  tinyq.QEltwise
 *     (runtime/ops/fused_qdq.c: byte tables per channel)
 *
 * Intermediate values must have no other reader (they disappear); a DQ whose
 * output is also read elsewhere stays for those readers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/fuse.h"
#include "graph/graph_query.h"

static const tq_tensor *init_of(const tq_graph *g, const char *name)
{
    return name && name[0] ? tq_graph_find_initializer(g, name) : NULL;
}

/* An initializer, or Identity(initializer) (exporters share tensors that
 * way; the session folds it to a constant before the fused op's prepare). */
static const tq_tensor *const_of(const tq_graph *g, const char *name)
{
    const tq_tensor *t = init_of(g, name);
    if (t)
        return t;
    int p = tq_graph_producer(g, name);
    if (p >= 0 && tq_node_is_onnx(&g->nodes[p], "Identity") && g->nodes[p].n_inputs == 1)
        return init_of(g, g->nodes[p].inputs[0]);
    return NULL;
}

static bool is_q8(tq_dtype t)
{
    return t == TQ_INT8 || t == TQ_UINT8;
}

static bool scalar_init(const tq_graph *g, const char *name, bool want_float)
{
    const tq_tensor *t = init_of(g, name);
    if (!t || t->rank > 1 || tq_tensor_numel(t) != 1)
        return false;
    return want_float ? t->dtype == TQ_FLOAT : is_q8(t->dtype);
}

/* A per-tensor activation DequantizeLinear / QuantizeLinear with constant
 * scale and zero point (the zero point must be written out). */
static bool act_qdq(const tq_graph *g, int i, const char *op)
{
    if (i < 0 || !tq_node_is_onnx(&g->nodes[i], op))
        return false;
    const tq_node *n = &g->nodes[i];
    return n->n_inputs == 3 && n->n_outputs == 1 && !init_of(g, n->inputs[0]) &&
           scalar_init(g, n->inputs[1], true) && scalar_init(g, n->inputs[2], false);
}

/* ---- Conv groups -> QLinearConv */

typedef struct conv_group {
    int conv, q;
    int tail[3]; /* DQ, Relu/Clip, Q joined by redundant_tail, or -1 */
    const char *ins[9];
    int n_ins;
} conv_group;

static bool weight_dq(const tq_graph *g, int i, int64_t *cout, const tq_tensor **scale)
{
    if (i < 0 || !tq_node_is_onnx(&g->nodes[i], "DequantizeLinear") || g->nodes[i].n_inputs != 3)
        return false;
    const tq_node *n = &g->nodes[i];
    const tq_tensor *w = init_of(g, n->inputs[0]), *s = init_of(g, n->inputs[1]),
                    *z = init_of(g, n->inputs[2]);
    if (!w || !s || !z || !is_q8(w->dtype) || w->rank != 4 || s->dtype != TQ_FLOAT ||
        z->dtype != w->dtype || s->rank > 1 || z->rank > 1)
        return false;
    int64_t ns = tq_tensor_numel(s);
    if (ns != tq_tensor_numel(z) || (ns != 1 && ns != w->dims[0]))
        return false;
    if (ns != 1 && tq_node_attr_int(n, "axis", 1) != 0)
        return false;
    *cout = w->dims[0];
    *scale = s;
    return true;
}

/* An int32 bias whose scale is exactly x_scale * w_scale[o] (zero point 0). */
static bool bias_dq(const tq_graph *g, int i, int64_t cout, float xs, const tq_tensor *ws)
{
    if (i < 0 || !tq_node_is_onnx(&g->nodes[i], "DequantizeLinear") || g->nodes[i].n_inputs < 2)
        return false;
    const tq_node *n = &g->nodes[i];
    const tq_tensor *b = init_of(g, n->inputs[0]), *s = init_of(g, n->inputs[1]);
    if (!b || !s || b->dtype != TQ_INT32 || tq_tensor_numel(b) != cout || s->dtype != TQ_FLOAT)
        return false;
    if (n->n_inputs > 2 && n->inputs[2][0]) {
        const tq_tensor *z = init_of(g, n->inputs[2]);
        if (!z || z->dtype != TQ_INT32)
            return false;
        for (int64_t k = 0; k < tq_tensor_numel(z); k++)
            if (((const int32_t *)z->data)[k] != 0)
                return false;
    }
    int64_t ns = tq_tensor_numel(s), nw = tq_tensor_numel(ws);
    if (ns != 1 && ns != cout)
        return false;
    for (int64_t o = 0; o < cout; o++) {
        float want = xs * ((const float *)ws->data)[nw == 1 ? 0 : o];
        if (((const float *)s->data)[ns == 1 ? 0 : o] != want)
            return false;
    }
    return true;
}

/* The input side of a Conv group: DQ(x), DQ(w) and an optional DQ(int32
 * bias) whose scale is x_scale * w_scale. Fills ins[0..5] and *bias. */
static bool conv_inputs(const tq_graph *g, int i, const bool *taken, conv_group *cg,
                        const char **bias)
{
    const tq_node *cv = &g->nodes[i];
    if (!tq_node_is_onnx(cv, "Conv") || cv->n_inputs < 2 || cv->n_outputs != 1 || taken[i])
        return false;
    int dx = tq_graph_producer(g, cv->inputs[0]), dw = tq_graph_producer(g, cv->inputs[1]);
    int64_t cout;
    const tq_tensor *ws;
    if (!act_qdq(g, dx, "DequantizeLinear") || !weight_dq(g, dw, &cout, &ws))
        return false;
    const tq_node *nx = &g->nodes[dx], *nw = &g->nodes[dw];
    *bias = NULL;
    if (cv->n_inputs > 2 && cv->inputs[2][0]) {
        int db = tq_graph_producer(g, cv->inputs[2]);
        float xs = *(const float *)init_of(g, nx->inputs[1])->data;
        if (!bias_dq(g, db, cout, xs, ws))
            return false;
        *bias = g->nodes[db].inputs[0];
    }
    const char *ins[6] = { nx->inputs[0], nx->inputs[1], nx->inputs[2],
                           nw->inputs[0], nw->inputs[1], nw->inputs[2] };
    memcpy(cg->ins, ins, sizeof ins);
    cg->conv = i;
    cg->q = -1;
    cg->tail[0] = cg->tail[1] = cg->tail[2] = -1;
    return true;
}

/* The output side of a group whose inputs matched: Q(y) as its sole
 * reader makes it quantised (q, then ins[6..8] = y_scale, y_zp, bias);
 * otherwise its float output is read as it is (--float-outputs: a skip Add,
 * or a Relu before the next Q) and ins[6] = bias (q stays -1). */
static int group_output_side(const tq_graph *g, const char *y, const bool *taken,
                             const char *bias, const char **ins, int *n_ins)
{
    int q = tq_graph_sole_consumer(g, y);
    if (!act_qdq(g, q, "QuantizeLinear") || taken[q]) {
        ins[6] = bias;
        *n_ins = bias ? 7 : 6;
        return -1;
    }
    ins[6] = g->nodes[q].inputs[1];
    ins[7] = g->nodes[q].inputs[2];
    ins[8] = bias;
    *n_ins = bias ? 9 : 8;
    return q;
}

static bool match_conv(const tq_graph *g, int i, const bool *taken, conv_group *cg)
{
    const char *bias;
    if (!conv_inputs(g, i, taken, cg, &bias))
        return false;
    cg->q = group_output_side(g, g->nodes[i].outputs[0], taken, bias, cg->ins, &cg->n_ins);
    return true;
}

/* ---- Gemm / MatMul groups -> tinyq.QGemm */

/* A constant 2-D 8-bit weight behind a DequantizeLinear, quantised per
 * tensor or per output column (axis `axis`); *n = output columns. */
static bool weight_dq_2d(const tq_graph *g, int i, bool trans, int64_t *n,
                         const tq_tensor **scale)
{
    if (i < 0 || !tq_node_is_onnx(&g->nodes[i], "DequantizeLinear") || g->nodes[i].n_inputs != 3)
        return false;
    const tq_node *d = &g->nodes[i];
    const tq_tensor *w = init_of(g, d->inputs[0]), *s = init_of(g, d->inputs[1]),
                    *z = init_of(g, d->inputs[2]);
    if (!w || !s || !z || !is_q8(w->dtype) || w->rank != 2 || s->dtype != TQ_FLOAT ||
        z->dtype != w->dtype || s->rank > 1 || z->rank > 1)
        return false;
    *n = trans ? w->dims[0] : w->dims[1];
    int64_t ns = tq_tensor_numel(s);
    if (ns != tq_tensor_numel(z) || (ns != 1 && ns != *n))
        return false;
    if (ns != 1 && tq_node_attr_int(d, "axis", 1) != (trans ? 0 : 1))
        return false;
    *scale = s;
    return true;
}

typedef struct gemm_group {
    int node, q;
    int tail[3]; /* as conv_group's */
    bool trans;
    const char *ins[9];
    int n_ins;
} gemm_group;

/* The input side of a Gemm / MatMul group (as conv_inputs). */
static bool gemm_inputs(const tq_graph *g, int i, const bool *taken, gemm_group *gg,
                        const char **bias)
{
    const tq_node *nd = &g->nodes[i];
    bool gemm = tq_node_is_onnx(nd, "Gemm");
    if ((!gemm && !tq_node_is_onnx(nd, "MatMul")) || nd->n_inputs < 2 || nd->n_outputs != 1 || taken[i])
        return false;
    bool trans = false;
    if (gemm) {
        if (tq_node_attr_int(nd, "transA", 0) != 0 || tq_node_attr_float(nd, "alpha", 1.0f) != 1.0f ||
            tq_node_attr_float(nd, "beta", 1.0f) != 1.0f)
            return false;
        trans = tq_node_attr_int(nd, "transB", 0) != 0;
    }
    int dx = tq_graph_producer(g, nd->inputs[0]), dw = tq_graph_producer(g, nd->inputs[1]);
    int64_t n;
    const tq_tensor *ws;
    if (!act_qdq(g, dx, "DequantizeLinear") || !weight_dq_2d(g, dw, trans, &n, &ws))
        return false;
    const tq_node *nx = &g->nodes[dx], *nw = &g->nodes[dw];
    *bias = NULL;
    if (gemm && nd->n_inputs > 2 && nd->inputs[2][0]) {
        int db = tq_graph_producer(g, nd->inputs[2]);
        float xs = *(const float *)init_of(g, nx->inputs[1])->data;
        if (!bias_dq(g, db, n, xs, ws) || init_of(g, g->nodes[db].inputs[0])->rank != 1)
            return false;
        *bias = g->nodes[db].inputs[0];
    }
    gg->node = i;
    gg->q = -1;
    gg->tail[0] = gg->tail[1] = gg->tail[2] = -1;
    gg->trans = trans;
    const char *ins[6] = { nx->inputs[0], nx->inputs[1], nx->inputs[2],
                           nw->inputs[0], nw->inputs[1], nw->inputs[2] };
    memcpy(gg->ins, ins, sizeof ins);
    return true;
}

static bool match_gemm(const tq_graph *g, int i, const bool *taken, gemm_group *gg)
{
    const char *bias;
    if (!gemm_inputs(g, i, taken, gg, &bias))
        return false;
    gg->q = group_output_side(g, g->nodes[i].outputs[0], taken, bias, gg->ins, &gg->n_ins);
    return true;
}

/* ---- element-wise islands -> tinyq.QEltwise */

enum { ACT_NONE = 0, ACT_RELU = 1, ACT_CLIP = 2 };

typedef struct elt_group {
    int q, act_node, add, bn[2]; /* node indices, -1 when absent */
    const char *ins[16];
    int act;
    float act_min, act_max, eps[2];
    const char *out;
} elt_group;

static bool match_act(const tq_graph *g, int a, elt_group *eg)
{
    const tq_node *n = &g->nodes[a];
    if (tq_node_is_onnx(n, "Relu") && n->n_inputs == 1) {
        eg->act = ACT_RELU;
        return true;
    }
    if (!tq_node_is_onnx(n, "Clip") || n->n_inputs < 1)
        return false;
    float lo = -INFINITY, hi = INFINITY;
    if (n->n_inputs == 1) {
        lo = tq_node_attr_float(n, "min", -3.402823466e38f);
        hi = tq_node_attr_float(n, "max", 3.402823466e38f);
    }
    for (int k = 1; k < n->n_inputs && k < 3; k++) {
        if (!n->inputs[k][0])
            continue;
        const tq_tensor *t = init_of(g, n->inputs[k]);
        if (!t || t->dtype != TQ_FLOAT || tq_tensor_numel(t) != 1)
            return false;
        *(k == 1 ? &lo : &hi) = *(const float *)t->data;
    }
    eg->act = ACT_CLIP;
    eg->act_min = lo;
    eg->act_max = hi;
    return true;
}

/* Branch feeding `name` (read only by node `reader`): DQ or DQ -> BN. Fills
 * inputs base..base+6 of the fused node. */
static bool match_branch(const tq_graph *g, const char *name, int reader, const bool *taken,
                         elt_group *eg, int which)
{
    int p = tq_graph_producer(g, name);
    eg->bn[which] = -1;
    eg->eps[which] = 1e-5f;
    const char **ins = eg->ins + (which ? 7 : 0);
    if (p >= 0 && tq_node_is_onnx(&g->nodes[p], "BatchNormalization")) {
        const tq_node *bn = &g->nodes[p];
        if (taken[p] || bn->n_inputs != 5 || bn->n_outputs != 1 ||
            tq_graph_sole_consumer(g, name) != reader || tq_node_attr_int(bn, "training_mode", 0) != 0)
            return false;
        for (int k = 1; k < 5; k++) {
            const tq_tensor *t = const_of(g, bn->inputs[k]);
            if (!t || t->dtype != TQ_FLOAT || t->rank != 1)
                return false;
            ins[2 + k] = bn->inputs[k];
        }
        eg->bn[which] = p;
        eg->eps[which] = tq_node_attr_float(bn, "epsilon", 1e-5f);
        p = tq_graph_producer(g, bn->inputs[0]);
    }
    if (!act_qdq(g, p, "DequantizeLinear"))
        return false;
    ins[0] = g->nodes[p].inputs[0];
    ins[1] = g->nodes[p].inputs[1];
    ins[2] = g->nodes[p].inputs[2];
    return true;
}

/* Core (Add of two branches, or one branch) producing `v`, read by `reader`. */
static bool match_core(const tq_graph *g, const char *v, int reader, const bool *taken,
                       elt_group *eg)
{
    int p = tq_graph_producer(g, v);
    if (p >= 0 && tq_node_is_onnx(&g->nodes[p], "Add") && g->nodes[p].n_inputs == 2 && !taken[p] &&
        tq_graph_sole_consumer(g, v) == reader) {
        const tq_node *add = &g->nodes[p];
        if (strcmp(add->inputs[0], add->inputs[1]) == 0)
            return false;
        eg->add = p;
        return match_branch(g, add->inputs[0], p, taken, eg, 0) &&
               match_branch(g, add->inputs[1], p, taken, eg, 1);
    }
    eg->add = -1;
    return match_branch(g, v, reader, taken, eg, 0);
}

static void elt_reset(elt_group *eg)
{
    memset(eg, 0, sizeof *eg);
    eg->q = eg->act_node = eg->add = eg->bn[0] = eg->bn[1] = -1;
    for (int k = 0; k < 16; k++)
        eg->ins[k] = "";
}

/* Ending in a QuantizeLinear. */
static bool match_elt_q(const tq_graph *g, int i, const bool *taken, elt_group *eg)
{
    elt_reset(eg);
    if (taken[i] || !act_qdq(g, i, "QuantizeLinear"))
        return false;
    const tq_node *q = &g->nodes[i];
    const char *v = q->inputs[0];
    int reader = i, p = tq_graph_producer(g, v);
    if (p >= 0 && !taken[p] && tq_graph_sole_consumer(g, v) == i && match_act(g, p, eg)) {
        eg->act_node = p;
        reader = p;
        v = g->nodes[p].inputs[0];
    } else {
        eg->act = ACT_NONE;
    }
    if (!match_core(g, v, reader, taken, eg))
        return false;
    if (eg->add < 0 && eg->bn[0] < 0 && eg->act_node < 0)
        return false; /* DQ -> Q alone: a requantisation, left as is */
    eg->q = i;
    eg->ins[14] = q->inputs[1];
    eg->ins[15] = q->inputs[2];
    eg->out = q->outputs[0];
    return true;
}

/* An Add of two branches [-> Relu|Clip] whose float result leaves the
 * quantised region (e.g. into GlobalAveragePool). */
static bool match_elt_float(const tq_graph *g, int i, const bool *taken, elt_group *eg)
{
    elt_reset(eg);
    const tq_node *add = &g->nodes[i];
    if (taken[i] || !tq_node_is_onnx(add, "Add") || add->n_outputs != 1)
        return false;
    const char *out = add->outputs[0];
    int a = tq_graph_sole_consumer(g, out);
    if (a >= 0 && !taken[a] && match_act(g, a, eg)) {
        eg->act_node = a;
        out = g->nodes[a].outputs[0];
    } else {
        eg->act = ACT_NONE;
        a = -1;
    }
    /* without an activation the fused node writes the Add's own value, so
     * any number of readers is fine (sole_consumer then matches itself) */
    int reader = a >= 0 ? a : tq_graph_sole_consumer(g, add->outputs[0]);
    if (!match_core(g, add->outputs[0], reader, taken, eg) || eg->add != i)
        return false;
    eg->out = out;
    return true;
}

/* ---- rewriting */

/* ---- a redundant activation after a group's output quantisation */

/* Value of a scalar 8-bit zero point initializer. */
static int zp_value(const tq_tensor *z)
{
    return z->dtype == TQ_UINT8 ? ((const uint8_t *)z->data)[0] : ((const int8_t *)z->data)[0];
}

/* Q (node q, a group's output) -> DQ -> Relu | Clip -> Q2, all with one scale
 * and zero point (the quantiser writes Conv -> Clip so: ReLU6). The tail is
 * the identity on Q's values when the activation leaves the two dequantised
 * saturation ends where Q2 maps them back to themselves: DQ, the activation
 * and Q2 are monotone, so every value between the ends maps to itself too
 * (a value the activation moved would land on an end's image). Checked with
 * the runtime's formulas, DQ = (q - zp) * s and Q = saturate(rint(v / s) +
 * zp), so the fold is exact. tail[] gets the three node indices. */
static bool redundant_tail(const tq_graph *g, int q, const bool *taken, int tail[3])
{
    tail[0] = tail[1] = tail[2] = -1;
    int dq = tq_graph_sole_consumer(g, g->nodes[q].outputs[0]);
    if (!act_qdq(g, dq, "DequantizeLinear") || taken[dq])
        return false;
    int a = tq_graph_sole_consumer(g, g->nodes[dq].outputs[0]);
    elt_group act;
    if (a < 0 || taken[a] || !match_act(g, a, &act))
        return false;
    int q2 = tq_graph_sole_consumer(g, g->nodes[a].outputs[0]);
    if (!act_qdq(g, q2, "QuantizeLinear") || taken[q2])
        return false;
    const int idx[3] = { q, dq, q2 };
    const tq_tensor *z = init_of(g, g->nodes[q].inputs[2]);
    float s = *(const float *)init_of(g, g->nodes[q].inputs[1])->data;
    int zp = zp_value(z);
    for (int k = 1; k < 3; k++) {
        const tq_tensor *zk = init_of(g, g->nodes[idx[k]].inputs[2]);
        if (zk->dtype != z->dtype || zp_value(zk) != zp ||
            *(const float *)init_of(g, g->nodes[idx[k]].inputs[1])->data != s)
            return false;
    }
    if (!(s > 0.0f) || isinf(s) || (act.act == ACT_CLIP && (isnan(act.act_min) || isnan(act.act_max))))
        return false;
    const int qmin = z->dtype == TQ_UINT8 ? 0 : -128, qmax = qmin + 255;
    for (int end = qmin; end <= qmax; end += 255) {
        float v = (float)(end - zp) * s;
        if (act.act == ACT_RELU)
            v = v > 0.0f ? v : 0.0f;
        else
            v = v < act.act_min ? act.act_min : v > act.act_max ? act.act_max : v;
        float r = rintf(v / s) + (float)zp; /* before saturation */
        if (end == qmin ? !(r <= (float)qmin) : !(r >= (float)qmax))
            return false;
    }
    tail[0] = dq;
    tail[1] = a;
    tail[2] = q2;
    return true;
}

/* The node whose output a group writes: its own Q, or the joined tail's. */
static const char *group_output(const tq_graph *g, int q, const int tail[3])
{
    return g->nodes[tail[2] >= 0 ? tail[2] : q].outputs[0];
}

/* A group's output Q and its joined tail (absent ones are -1) leave the graph. */
static void take_group_q(bool *drop, int q, const int tail[3])
{
    if (q >= 0)
        drop[q] = true;
    for (int k = 0; k < 3; k++)
        if (tail[k] >= 0)
            drop[tail[k]] = true;
}

static int add_float_attr(tq_node *n, const char *name, float v)
{
    tq_attr *a = tq_node_add_attr(n, name, TQ_ATTR_FLOAT);
    if (!a)
        return TQ_ENOMEM;
    a->f = v;
    return TQ_OK;
}

static int emit_conv(tq_graph *tmp, const tq_graph *g, const conv_group *cg)
{
    const tq_node *cv = &g->nodes[cg->conv];
    bool to_float = cg->q < 0;
    tq_node *n = tq_graph_add_node(tmp, to_float ? "QConvF" : "QLinearConv", cv->name);
    if (!n)
        return TQ_ENOMEM;
    if (to_float) {
        free(n->domain);
        if (!(n->domain = strdup("tinyq")))
            return TQ_ENOMEM;
    }
    for (int k = 0; k < cg->n_ins; k++)
        if (tq_node_add_input(n, cg->ins[k]))
            return TQ_ENOMEM;
    if (tq_node_add_output(n, to_float ? cv->outputs[0] : group_output(g, cg->q, cg->tail)))
        return TQ_ENOMEM;
    return tq_node_copy_attrs(n, cv);
}

static int emit_gemm(tq_graph *tmp, const tq_graph *g, const gemm_group *gg)
{
    const tq_node *src = &g->nodes[gg->node];
    bool to_float = gg->q < 0;
    tq_node *n = tq_graph_add_node(tmp, to_float ? "QGemmF" : "QGemm", src->name);
    if (!n)
        return TQ_ENOMEM;
    free(n->domain);
    if (!(n->domain = strdup("tinyq")))
        return TQ_ENOMEM;
    for (int k = 0; k < gg->n_ins; k++)
        if (tq_node_add_input(n, gg->ins[k]))
            return TQ_ENOMEM;
    if (tq_node_add_output(n, to_float ? src->outputs[0] : group_output(g, gg->q, gg->tail)))
        return TQ_ENOMEM;
    tq_attr *a = tq_node_add_attr(n, "transB", TQ_ATTR_INT);
    if (!a)
        return TQ_ENOMEM;
    a->i = gg->trans;
    return TQ_OK;
}

static int emit_elt(tq_graph *tmp, const tq_graph *g, const elt_group *eg)
{
    int anchor = eg->q >= 0 ? eg->q : eg->add;
    tq_node *n = tq_graph_add_node(tmp, "QEltwise", g->nodes[anchor].name);
    if (!n)
        return TQ_ENOMEM;
    free(n->domain);
    if (!(n->domain = strdup("tinyq")))
        return TQ_ENOMEM;
    int last = 15;
    while (last > 0 && !eg->ins[last][0])
        last--;
    for (int k = 0; k <= last; k++)
        if (tq_node_add_input(n, eg->ins[k]))
            return TQ_ENOMEM;
    if (tq_node_add_output(n, eg->out))
        return TQ_ENOMEM;
    if (add_float_attr(n, "a_eps", eg->eps[0]) || add_float_attr(n, "b_eps", eg->eps[1]))
        return TQ_ENOMEM;
    if (eg->act) {
        tq_attr *a = tq_node_add_attr(n, "act", TQ_ATTR_INT);
        if (!a)
            return TQ_ENOMEM;
        a->i = eg->act;
        if (add_float_attr(n, "act_min", eg->act_min) || add_float_attr(n, "act_max", eg->act_max))
            return TQ_ENOMEM;
    }
    return TQ_OK;
}

static void take_elt(bool *drop, const elt_group *eg)
{
    int idx[5] = { eg->q, eg->act_node, eg->add, eg->bn[0], eg->bn[1] };
    for (int k = 0; k < 5; k++)
        if (idx[k] >= 0)
            drop[idx[k]] = true;
}

int tq_fuse_qdq(tq_model *m, int *n_fused, tq_error *err)
{
    tq_graph *g = &m->graph;
    const char *path = m->path ? m->path : "model";
    *n_fused = 0;
    bool *drop = calloc((size_t)g->n_nodes + 1, sizeof *drop);
    if (!drop)
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
    tq_graph tmp = {0};
    int rc = TQ_OK;
    for (int i = 0; i < g->n_nodes && rc == TQ_OK; i++) {
        conv_group cg;
        if (!match_conv(g, i, drop, &cg))
            continue;
        if (cg.q >= 0)
            redundant_tail(g, cg.q, drop, cg.tail);
        rc = emit_conv(&tmp, g, &cg);
        drop[cg.conv] = true;
        take_group_q(drop, cg.q, cg.tail);
        (*n_fused)++;
    }
    for (int i = 0; i < g->n_nodes && rc == TQ_OK; i++) {
        gemm_group gg;
        if (!match_gemm(g, i, drop, &gg))
            continue;
        if (gg.q >= 0)
            redundant_tail(g, gg.q, drop, gg.tail);
        rc = emit_gemm(&tmp, g, &gg);
        drop[gg.node] = true;
        take_group_q(drop, gg.q, gg.tail);
        (*n_fused)++;
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < g->n_nodes && rc == TQ_OK; i++) {
            elt_group eg;
            bool ok = pass == 0 ? match_elt_q(g, i, drop, &eg) : match_elt_float(g, i, drop, &eg);
            if (!ok)
                continue;
            rc = emit_elt(&tmp, g, &eg);
            take_elt(drop, &eg);
            (*n_fused)++;
        }
    if (rc == TQ_OK && *n_fused)
        rc = tq_graph_splice(g, drop, &tmp);
    tq_graph_clear(&tmp);
    free(drop);
    if (rc)
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory while fusing", path);
    return TQ_OK;
}
