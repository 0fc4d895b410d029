/* The dynamic-int8 fusion pass (see graph/fuse.h for the pattern and why the
 * fused result is bit-identical) and the session entry point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/fuse.h"
#include "graph/graph_query.h"

static const tq_tensor *init_of(const tq_graph *g, const char *name)
{
    return name && name[0] ? tq_graph_find_initializer(g, name) : NULL;
}

static bool is_scalar_like(const tq_tensor *t)
{
    return t && t->rank <= 1 && tq_tensor_numel(t) == 1;
}

/* A per-output-channel weight scale whose float Mul broadcasts along the
 * channel axis only: conv [C,1,1] (what the per-channel quantiser writes) or
 * [1,C,1,1]; matmul [N]. A [C] vector against a conv output would scale
 * along the width instead, so it must not match. */
static bool channel_shaped(const tq_tensor *t, bool conv, int64_t n)
{
    if (!conv)
        return t->rank == 1 && t->dims[0] == n;
    if (t->rank == 3)
        return t->dims[0] == n && t->dims[1] == 1 && t->dims[2] == 1;
    return t->rank == 4 && t->dims[0] == 1 && t->dims[1] == n && t->dims[2] == 1 &&
           t->dims[3] == 1;
}

/* Constant bias vector of n floats for the Add operand `name`, broadcasting
 * along the channel axis (conv: [1,C,1,1] or [C,1,1]; matmul: [N]). Accepts an
 * initializer or Reshape(initializer, constant shape). Returns the name of an
 * initializer holding exactly the n values in order, or NULL. */
static const char *bias_source(const tq_graph *g, const char *name, bool conv, int64_t n)
{
    const tq_tensor *t = init_of(g, name);
    int64_t dims[TQ_MAX_RANK];
    int rank;
    const char *src = name;
    if (t) {
        rank = t->rank;
        memcpy(dims, t->dims, sizeof dims);
    } else {
        int p = tq_graph_producer(g, name);
        if (p < 0 || !tq_node_is_onnx(&g->nodes[p], "Reshape") || g->nodes[p].n_inputs < 2)
            return NULL;
        t = init_of(g, g->nodes[p].inputs[0]);
        const tq_tensor *shape = init_of(g, g->nodes[p].inputs[1]);
        if (!t || !shape || shape->dtype != TQ_INT64 || shape->rank != 1 ||
            shape->dims[0] > TQ_MAX_RANK)
            return NULL;
        rank = (int)shape->dims[0];
        int infer = -1;
        int64_t known = 1;
        for (int i = 0; i < rank; i++) {
            dims[i] = ((const int64_t *)shape->data)[i];
            if (dims[i] == -1 && infer < 0) /* exporters write [1,-1,1,1] */
                infer = i;
            else if (dims[i] <= 0) /* 0 copies the input's dim: skip */
                return NULL;
            else
                known *= dims[i];
        }
        if (infer >= 0) {
            if (tq_tensor_numel(t) % known != 0)
                return NULL;
            dims[infer] = tq_tensor_numel(t) / known;
        }
        src = g->nodes[p].inputs[0];
    }
    if (t->dtype != TQ_FLOAT || tq_tensor_numel(t) != n)
        return NULL;
    if (conv) {
        bool ok = (rank == 4 && dims[0] == 1 && dims[1] == n && dims[2] == 1 && dims[3] == 1) ||
                  (rank == 3 && dims[0] == n && dims[1] == 1 && dims[2] == 1);
        return ok ? src : NULL;
    }
    return rank == 1 && dims[0] == n ? src : NULL;
}

/* Activation folded into the epilogue (attribute "act" of the fused op). */
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_CLIP = 2 };

typedef struct fuse_group {
    int integer, cast, mul, add; /* node indices; add = -1 when absent */
    int res_add, act_node;       /* residual Add, Relu/Clip; -1 when absent */
    const char *x, *w, *w_zp, *w_scale, *bias, *res, *out;
    int act;
    float act_min, act_max;
    bool conv;
} fuse_group;

/* A float scalar initializer (Clip bound); empty name = absent = dflt. */
static bool const_float(const tq_graph *g, const tq_node *n, int i, float dflt, float *v)
{
    if (i >= n->n_inputs || !n->inputs[i][0]) {
        *v = dflt;
        return true;
    }
    const tq_tensor *t = init_of(g, n->inputs[i]);
    if (!t || t->dtype != TQ_FLOAT || !is_scalar_like(t))
        return false;
    *v = *(const float *)t->data;
    return true;
}

/* Relu, or Clip with constant float bounds, as an epilogue activation. */
static bool match_act(const tq_graph *g, int a, fuse_group *fg)
{
    const tq_node *n = &g->nodes[a];
    if (tq_node_is_onnx(n, "Relu") && n->n_inputs == 1) {
        fg->act = ACT_RELU;
        return true;
    }
    if (!tq_node_is_onnx(n, "Clip") || n->n_inputs < 1)
        return false;
    float lo, hi;
    if (n->n_inputs == 1) { /* opset < 11: bounds are attributes */
        lo = tq_node_attr_float(n, "min", -3.402823466e38f);
        hi = tq_node_attr_float(n, "max", 3.402823466e38f);
    } else if (!const_float(g, n, 1, -INFINITY, &lo) || !const_float(g, n, 2, INFINITY, &hi)) {
        return false;
    }
    fg->act = ACT_CLIP;
    fg->act_min = lo;
    fg->act_max = hi;
    return true;
}

/* After the scale/bias: [residual Add (conv only)] [Relu | Clip]. The
 * epilogue performs the same float operations in the same order, so the
 * result stays bit-identical. */
static void match_tail(const tq_graph *g, const bool *taken, fuse_group *fg)
{
    int a = tq_graph_sole_consumer(g, fg->out);
    if (a >= 0 && taken[a]) /* another group's tail already (Add of two convs) */
        return;
    if (fg->conv && a >= 0 && tq_node_is_onnx(&g->nodes[a], "Add") && g->nodes[a].n_inputs == 2) {
        const tq_node *add = &g->nodes[a];
        int oj = strcmp(add->inputs[0], fg->out) == 0 ? 1 : 0;
        const char *other = add->inputs[oj];
        if (strcmp(add->inputs[1 - oj], fg->out) == 0 && strcmp(other, fg->out) != 0 &&
            other[0] && !init_of(g, other)) {
            fg->res_add = a;
            fg->res = other;
            fg->out = add->outputs[0];
            a = tq_graph_sole_consumer(g, fg->out);
        }
    }
    if (a >= 0 && !taken[a] && match_act(g, a, fg)) {
        fg->act_node = a;
        fg->out = g->nodes[a].outputs[0];
    }
}

/* Does node i (ConvInteger/MatMulInteger) start a fusable chain? */
static bool match(const tq_graph *g, int i, const bool *taken, fuse_group *fg)
{
    const tq_node *in = &g->nodes[i];
    bool conv = tq_node_is_onnx(in, "ConvInteger");
    if (!conv && !tq_node_is_onnx(in, "MatMulInteger"))
        return false;
    if (in->n_inputs < 3 || in->n_outputs != 1 || !in->inputs[2][0])
        return false;
    int d = tq_graph_producer(g, in->inputs[0]);
    if (d < 0 || !tq_node_is_onnx(&g->nodes[d], "DynamicQuantizeLinear") || g->nodes[d].n_outputs < 3)
        return false;
    const tq_node *dq = &g->nodes[d];
    if (strcmp(dq->outputs[0], in->inputs[0]) || strcmp(dq->outputs[2], in->inputs[2]))
        return false;
    const tq_tensor *w = init_of(g, in->inputs[1]);
    if (!w || (w->dtype != TQ_INT8 && w->dtype != TQ_UINT8) || w->rank != (conv ? 4 : 2))
        return false;
    const char *wzp = in->n_inputs > 3 && in->inputs[3][0] ? in->inputs[3] : NULL;
    const tq_tensor *wz = wzp ? init_of(g, wzp) : NULL;
    if (wzp && (!wz || wz->dtype != w->dtype))
        return false;
    int64_t nout = conv ? w->dims[0] : w->dims[1];

    int c = tq_graph_sole_consumer(g, in->outputs[0]);
    if (c < 0 || !tq_node_is_onnx(&g->nodes[c], "Cast") || tq_node_attr_int(&g->nodes[c], "to", 0) != 1)
        return false;
    int m = tq_graph_sole_consumer(g, g->nodes[c].outputs[0]);
    if (m < 0 || !tq_node_is_onnx(&g->nodes[m], "Mul") || g->nodes[m].n_inputs != 2)
        return false;
    const tq_node *mul = &g->nodes[m];
    int j = strcmp(mul->inputs[0], g->nodes[c].outputs[0]) == 0 ? 1 : 0;
    int m0 = tq_graph_producer(g, mul->inputs[j]);
    if (m0 < 0 || !tq_node_is_onnx(&g->nodes[m0], "Mul") || g->nodes[m0].n_inputs != 2)
        return false;
    const tq_node *sm = &g->nodes[m0];
    int sj = strcmp(sm->inputs[0], dq->outputs[1]) == 0 ? 1 : 0;
    if (strcmp(sm->inputs[1 - sj], dq->outputs[1]) != 0)
        return false;
    const tq_tensor *ws = init_of(g, sm->inputs[sj]);
    if (!ws || ws->dtype != TQ_FLOAT)
        return false;
    if (!is_scalar_like(ws) && !channel_shaped(ws, conv, nout))
        return false;

    memset(fg, 0, sizeof *fg);
    fg->integer = i;
    fg->cast = c;
    fg->mul = m;
    fg->add = -1;
    fg->res_add = -1;
    fg->act_node = -1;
    fg->conv = conv;
    fg->x = dq->inputs[0];
    fg->w = in->inputs[1];
    fg->w_zp = wzp;
    fg->w_scale = sm->inputs[sj];
    fg->out = mul->outputs[0];
    int a = tq_graph_sole_consumer(g, mul->outputs[0]);
    if (a >= 0 && tq_node_is_onnx(&g->nodes[a], "Add") && g->nodes[a].n_inputs == 2) {
        const tq_node *add = &g->nodes[a];
        int bj = strcmp(add->inputs[0], mul->outputs[0]) == 0 ? 1 : 0;
        const char *b = bias_source(g, add->inputs[bj], conv, nout);
        if (b) {
            fg->add = a;
            fg->bias = b;
            fg->out = add->outputs[0];
        }
    }
    match_tail(g, taken, fg);
    return true;
}

static int make_fused(tq_graph *tmp, const tq_graph *g, const fuse_group *fg)
{
    const tq_node *in = &g->nodes[fg->integer];
    tq_node *n = tq_graph_add_node(tmp, fg->conv ? "DynQConv" : "DynQMatMul", in->name);
    if (!n)
        return TQ_ENOMEM;
    free(n->domain);
    n->domain = strdup("tinyq");
    if (!n->domain)
        return TQ_ENOMEM;
    const char *ins[6] = { fg->x, fg->w, fg->w_zp ? fg->w_zp : "", fg->w_scale,
                           fg->bias ? fg->bias : "", fg->res ? fg->res : "" };
    for (int k = 0; k < (fg->res ? 6 : 5); k++)
        if (tq_node_add_input(n, ins[k]))
            return TQ_ENOMEM;
    if (fg->act) {
        /* one at a time: adding an attribute may move the earlier ones */
        tq_attr *a = tq_node_add_attr(n, "act", TQ_ATTR_INT);
        if (!a)
            return TQ_ENOMEM;
        a->i = fg->act;
        if (!(a = tq_node_add_attr(n, "act_min", TQ_ATTR_FLOAT)))
            return TQ_ENOMEM;
        a->f = fg->act_min;
        if (!(a = tq_node_add_attr(n, "act_max", TQ_ATTR_FLOAT)))
            return TQ_ENOMEM;
        a->f = fg->act_max;
    }
    if (tq_node_add_output(n, fg->out))
        return TQ_ENOMEM;
    if (tq_node_copy_attrs(n, in))
        return TQ_ENOMEM;
    return TQ_OK;
}


/* The fused ops of this pass: they can publish and reuse input ranges. */
static bool is_dyn_fused(const tq_node *n)
{
    return strcmp(n->op_type, "DynQConv") == 0 || strcmp(n->op_type, "DynQMatMul") == 0;
}

int tq_fuse_dynamic(tq_model *m, int *n_fused, tq_error *err)
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
        fuse_group fg;
        if (!match(g, i, drop, &fg))
            continue;
        rc = make_fused(&tmp, g, &fg);
        drop[fg.integer] = drop[fg.cast] = drop[fg.mul] = true;
        if (fg.add >= 0)
            drop[fg.add] = true;
        if (fg.res_add >= 0)
            drop[fg.res_add] = true;
        if (fg.act_node >= 0)
            drop[fg.act_node] = true;
        (*n_fused)++;
    }
    /* A fused op feeding another fused op hands it its output's min/max
     * (computed in the epilogue), saving the consumer a pass over its input. */
    for (int i = 0; i < tmp.n_nodes && rc == TQ_OK; i++)
        for (int j = 0; j < tmp.n_nodes && rc == TQ_OK; j++) {
            tq_node *prod = &tmp.nodes[i], *cons = &tmp.nodes[j];
            if (i == j || !is_dyn_fused(prod) || !is_dyn_fused(cons) || cons->n_inputs < 1 ||
                strcmp(prod->outputs[0], cons->inputs[0]) != 0)
                continue;
            tq_attr *a = tq_node_attr_int(prod, "emit_range", 0)
                             ? NULL
                             : tq_node_add_attr(prod, "emit_range", TQ_ATTR_INT);
            if (a)
                a->i = 1;
            else if (!tq_node_attr_int(prod, "emit_range", 0))
                rc = TQ_ENOMEM;
            tq_attr *b = rc ? NULL : tq_node_add_attr(cons, "x_range", TQ_ATTR_INT);
            if (b)
                b->i = 1;
            else if (!rc)
                rc = TQ_ENOMEM;
        }
    if (rc == TQ_OK && *n_fused)
        rc = tq_graph_splice(g, drop, &tmp);
    tq_graph_clear(&tmp);
    free(drop);
    if (rc)
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory while fusing", path);
    return TQ_OK;
}

int tq_fuse_for_session(const tq_model *m, tq_model **out, tq_error *err)
{
    *out = NULL;
    bool any = false;
    for (int i = 0; i < m->graph.n_nodes && !any; i++)
        any = tq_node_is_onnx(&m->graph.nodes[i], "DynamicQuantizeLinear") ||
              tq_node_is_onnx(&m->graph.nodes[i], "QuantizeLinear");
    bool fp32 = tq_fuse_fp32_applies(m);
    if (!any && !fp32)
        return TQ_OK;
    tq_model *copy = NULL;
    int rc = tq_model_copy_for_exec(m, &copy, err);
    if (rc)
        return rc;
    /* Integer groups first (they consume the Q/DQ pairs around Conv), then
     * the fp32 conv fusions on whatever float Convs remain. */
    int n = 0, nq = 0, n_fp32 = 0;
    if (any)
        rc = tq_fuse_dynamic(copy, &n, err);
    if (!rc && any)
        rc = tq_fuse_qdq(copy, &nq, err);
    if (!rc && fp32)
        rc = tq_fuse_fp32(copy, &n_fp32, err);
    n += nq + n_fp32;
    if (rc || n == 0) {
        tq_model_free(&copy);
        return rc;
    }
    *out = copy;
    return TQ_OK;
}
