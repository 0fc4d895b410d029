/* The fp32 fusion pass (graph/fuse.h): the rewrites ONNX Runtime makes on
 * convolutional networks, so a Conv-BN-Relu-Add block is one pass over
 * memory instead of four.
 *
 *   Conv(X, W[, B]) -> BatchNormalization(scale, beta, mean, var, eps)
 *     becomes Conv(X, W', B') with s = scale / sqrt(var + eps),
 *     W'[co] = W[co] * s[co], B' = (B - mean) * s + beta (computed in double,
 *     rounded once: the same algebra as ORT's ConvBNFusion).
 *   Conv -> Add(other) [-> Relu]   becomes com.microsoft FusedConv(X, W, B, Z =
 *     other, activation = Relu): ORT's Conv+Add(+Relu) fusion.
 *   Conv -> Relu | Clip(constant min/max)   becomes FusedConv(activation).
 *
 * A value is only folded away when it is not a graph output and the next node
 * is its only reader; weights must be float32 initializers (possibly behind
 * Identity nodes, as torch's exporter writes deduplicated parameters) that no
 * graph input can override. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/fuse.h"

static bool is_onnx(const tq_node *n, const char *op)
{
    return strcmp(n->op_type, op) == 0 && (!n->domain || !n->domain[0] ||
                                           strcmp(n->domain, "ai.onnx") == 0);
}

static bool is_graph_output(const tq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (strcmp(g->outputs[i].name, name) == 0)
            return true;
    return false;
}

static bool is_graph_input(const tq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->inputs[i].name, name) == 0)
            return true;
    return false;
}

static int producer(const tq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (strcmp(g->nodes[i].outputs[k], name) == 0)
                return i;
    return -1;
}

/* The only node reading name (which is not a graph output), else -1. */
static int sole_consumer(const tq_graph *g, const char *name)
{
    if (is_graph_output(g, name))
        return -1;
    int found = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (strcmp(g->nodes[i].inputs[k], name) == 0) {
                if (found >= 0)
                    return -1;
                found = i;
            }
    return found;
}

/* The float32 initializer behind name (through Identity nodes), or NULL when
 * it is not a fixed constant. */
static const tq_tensor *const_float(const tq_graph *g, const char *name)
{
    for (int depth = 0; depth < 8 && name && name[0]; depth++) {
        if (is_graph_input(g, name))
            return NULL; /* a caller may feed it */
        const tq_tensor *t = tq_graph_find_initializer(g, name);
        if (t)
            return t->dtype == TQ_FLOAT ? t : NULL;
        int p = producer(g, name);
        if (p < 0 || !is_onnx(&g->nodes[p], "Identity") || g->nodes[p].n_inputs != 1)
            return NULL;
        name = g->nodes[p].inputs[0];
    }
    return NULL;
}

/* Is node i a plain 2-D/1-D Conv with constant float weights (and bias)? */
static bool conv_with_const_weights(const tq_graph *g, int i)
{
    const tq_node *n = &g->nodes[i];
    if (!is_onnx(n, "Conv") || n->n_inputs < 2 || n->n_outputs != 1)
        return false;
    const tq_tensor *w = const_float(g, n->inputs[1]);
    if (!w || w->rank < 3 || w->rank > 4 || w->dims[0] < 1)
        return false;
    if (n->n_inputs > 2 && n->inputs[2][0]) {
        const tq_tensor *b = const_float(g, n->inputs[2]);
        if (!b || b->rank != 1 || b->dims[0] != w->dims[0])
            return false;
    }
    return true;
}

static int set_name(char **slot, const char *name)
{
    char *d = strdup(name);
    if (!d)
        return TQ_ENOMEM;
    free(*slot);
    *slot = d;
    return TQ_OK;
}

/* A name no initializer and no node output uses yet: base + suffix [+ n]. */
static int fresh_name(const tq_graph *g, const char *base, const char *suffix, char *buf,
                      size_t cap)
{
    for (int n = 0; n < 1000; n++) {
        int len = n ? snprintf(buf, cap, "%s%s_%d", base, suffix, n)
                    : snprintf(buf, cap, "%s%s", base, suffix);
        if (len < 0 || (size_t)len >= cap)
            return TQ_ENOMEM;
        if (!tq_graph_find_initializer(g, buf) && producer(g, buf) < 0 &&
            !is_graph_input(g, buf))
            return TQ_OK;
    }
    return TQ_ENOMEM;
}

/* Remove node i (its slot is compacted away). */
static void drop_node(tq_graph *g, int i)
{
    tq_node_clear(&g->nodes[i]);
    memmove(&g->nodes[i], &g->nodes[i + 1], sizeof(tq_node) * (size_t)(g->n_nodes - i - 1));
    g->n_nodes--;
}

/* Conv at ci -> BatchNormalization: fold. Returns 1 when folded. */
static int fold_bn(tq_graph *g, int ci)
{
    tq_node *conv = &g->nodes[ci];
    int bi = sole_consumer(g, conv->outputs[0]);
    if (bi < 0)
        return 0;
    const tq_node *bn = &g->nodes[bi];
    if (!is_onnx(bn, "BatchNormalization") || bn->n_inputs != 5 ||
        strcmp(bn->inputs[0], conv->outputs[0]) != 0)
        return 0;
    for (int k = 1; k < bn->n_outputs; k++)
        if (bn->outputs[k][0]) /* training outputs (mean/var updates) */
            return 0;
    if (tq_node_attr_int(bn, "training_mode", 0) != 0 || tq_node_attr_int(bn, "spatial", 1) != 1)
        return 0;
    const tq_tensor *w = const_float(g, conv->inputs[1]);
    int64_t cout = w->dims[0];
    const tq_tensor *p[4];
    for (int k = 0; k < 4; k++) {
        p[k] = const_float(g, bn->inputs[1 + k]);
        if (!p[k] || tq_tensor_numel(p[k]) != cout || p[k]->rank != 1)
            return 0;
    }
    const tq_tensor *b = conv->n_inputs > 2 && conv->inputs[2][0]
                             ? const_float(g, conv->inputs[2])
                             : NULL;
    double eps = tq_node_attr_float(bn, "epsilon", 1e-5f);
    int64_t per = tq_tensor_numel(w) / cout;
    float *nw = malloc(w->nbytes + sizeof(float));
    float *nb = malloc(sizeof(float) * (size_t)cout);
    int rc = nw && nb ? TQ_OK : TQ_ENOMEM;
    for (int64_t co = 0; rc == TQ_OK && co < cout; co++) {
        const float *scale = p[0]->data, *beta = p[1]->data, *mean = p[2]->data,
                    *var = p[3]->data;
        double s = scale[co] / sqrt((double)var[co] + eps);
        const float *src = (const float *)w->data + co * per;
        for (int64_t j = 0; j < per; j++)
            nw[co * per + j] = (float)(src[j] * s);
        double bias = b ? ((const float *)b->data)[co] : 0.0;
        nb[co] = (float)((bias - mean[co]) * s + beta[co]);
    }
    char wname[512], bname[512];
    const char *base = conv->outputs[0];
    if (rc == TQ_OK)
        rc = fresh_name(g, base, "_tq_bn_w", wname, sizeof wname);
    int64_t bdims[1] = { cout };
    int64_t wdims[TQ_MAX_RANK];
    int wrank = w->rank;
    memcpy(wdims, w->dims, sizeof wdims);
    if (rc == TQ_OK && !tq_graph_add_initializer(g, wname, TQ_FLOAT, wrank, wdims, nw))
        rc = TQ_ENOMEM;
    if (rc == TQ_OK)
        rc = fresh_name(g, base, "_tq_bn_b", bname, sizeof bname);
    if (rc == TQ_OK && !tq_graph_add_initializer(g, bname, TQ_FLOAT, 1, bdims, nb))
        rc = TQ_ENOMEM;
    free(nw);
    free(nb);
    if (rc)
        return rc;
    /* w, p[] may have moved with the initializer array: not used below */
    conv = &g->nodes[ci];
    if ((rc = set_name(&conv->inputs[1], wname)))
        return rc;
    if (conv->n_inputs > 2)
        rc = set_name(&conv->inputs[2], bname);
    else
        rc = tq_node_add_input(conv, bname);
    if (rc == TQ_OK)
        rc = set_name(&conv->outputs[0], g->nodes[bi].outputs[0]);
    if (rc)
        return rc;
    drop_node(g, bi);
    return 1;
}

/* Constant clip bounds of a Clip node (attributes before opset 11, inputs
 * after); false when they are not constants. */
static bool clip_bounds(const tq_graph *g, const tq_node *n, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (n->n_inputs <= 1) {
        *lo = tq_node_attr_float(n, "min", -INFINITY);
        *hi = tq_node_attr_float(n, "max", INFINITY);
        return true;
    }
    for (int k = 1; k < n->n_inputs && k < 3; k++) {
        if (!n->inputs[k][0])
            continue;
        const tq_tensor *t = const_float(g, n->inputs[k]);
        if (!t || tq_tensor_numel(t) != 1)
            return false;
        *(k == 1 ? lo : hi) = ((const float *)t->data)[0];
    }
    return n->n_inputs <= 3;
}

/* Is node ai an activation FusedConv can apply? Sets act/lo/hi. */
static bool activation_of(const tq_graph *g, int ai, const char *in, const char **act,
                          float *lo, float *hi)
{
    const tq_node *a = &g->nodes[ai];
    if (a->n_outputs != 1 || a->n_inputs < 1 || strcmp(a->inputs[0], in) != 0)
        return false;
    if (is_onnx(a, "Relu") && a->n_inputs == 1) {
        *act = "Relu";
        return true;
    }
    if (is_onnx(a, "Clip") && clip_bounds(g, a, lo, hi)) {
        *act = "Clip";
        return true;
    }
    return false;
}

/* Conv at ci [-> Add(Z)] [-> Relu/Clip]: becomes one FusedConv. Returns 1
 * when rewritten. */
static int fuse_epilogue(tq_graph *g, int ci)
{
    const tq_node *conv = &g->nodes[ci];
    const char *y = conv->outputs[0];
    int drop[2] = { -1, -1 };
    const char *z = NULL, *act = NULL;
    float lo = 0, hi = 0;
    int next = sole_consumer(g, y);
    if (next < 0)
        return 0;
    const tq_node *add = &g->nodes[next];
    if (is_onnx(add, "Add") && add->n_inputs == 2 && add->n_outputs == 1) {
        int j = strcmp(add->inputs[0], y) == 0 ? 1 : 0;
        if (strcmp(add->inputs[1 - j], y) != 0 || strcmp(add->inputs[j], y) == 0)
            return 0;
        z = add->inputs[j];
        drop[0] = next;
        y = add->outputs[0];
        next = sole_consumer(g, y);
    }
    if (next >= 0 && next != drop[0] && activation_of(g, next, y, &act, &lo, &hi)) {
        drop[1] = next;
        y = g->nodes[next].outputs[0];
    }
    if (!z && !act)
        return 0;
    char out[512];
    if (strlen(y) + 1 > sizeof out)
        return 0;
    strcpy(out, y);
    tq_node *n = &g->nodes[ci];
    int rc = set_name(&n->op_type, "FusedConv");
    if (!rc)
        rc = set_name(&n->domain, "com.microsoft");
    while (!rc && n->n_inputs < 3)
        rc = tq_node_add_input(n, "");
    if (!rc && z)
        rc = tq_node_add_input(n, z);
    if (!rc && act) {
        tq_attr *a = tq_node_add_attr(n, "activation", TQ_ATTR_STRING);
        if (!a || !(a->s = strdup(act)))
            rc = TQ_ENOMEM;
        if (!rc && strcmp(act, "Clip") == 0) {
            a = tq_node_add_attr(n, "activation_params", TQ_ATTR_FLOATS);
            if (!a || !(a->floats = malloc(2 * sizeof(float))))
                rc = TQ_ENOMEM;
            else {
                a->floats[0] = lo;
                a->floats[1] = hi;
                a->n = 2;
            }
        }
    }
    if (!rc)
        rc = set_name(&n->outputs[0], out);
    if (rc)
        return rc;
    if (drop[1] >= 0)
        drop_node(g, drop[1]);
    if (drop[0] >= 0)
        drop_node(g, drop[0] - (drop[1] >= 0 && drop[1] < drop[0]));
    return 1;
}

/* Does m have a fp32 Conv this pass could rewrite? (Cheap pre-check so
 * models without one are not copied.) */
bool tq_fuse_fp32_applies(const tq_model *m)
{
    for (int i = 0; i < m->graph.n_nodes; i++)
        if (is_onnx(&m->graph.nodes[i], "Conv"))
            return true;
    return false;
}

int tq_fuse_fp32(tq_model *m, int *n_fused, tq_error *err)
{
    tq_graph *g = &m->graph;
    *n_fused = 0;
    /* BN folds first: the Conv must be plain Conv for them, and the Add or
     * activation then follows the folded Conv directly. Node indices shift as
     * nodes are dropped, so each rewrite restarts the scan of its stage. */
    for (int stage = 0; stage < 2; stage++) {
        bool again = true;
        while (again) {
            again = false;
            for (int i = 0; i < g->n_nodes; i++) {
                if (!conv_with_const_weights(g, i))
                    continue;
                int r = stage == 0 ? fold_bn(g, i) : fuse_epilogue(g, i);
                if (r < 0)
                    return tq_fail(err, TQ_ENOMEM, "%s: out of memory while fusing",
                                   m->path ? m->path : "model");
                if (r > 0) {
                    (*n_fused)++;
                    again = true;
                    break;
                }
            }
        }
    }
    return TQ_OK;
}
