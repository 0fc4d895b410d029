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

#include "graph/fold_bn.h"
#include "graph/fuse.h"
#include "graph/graph_query.h"

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
        const tq_tensor *t = tq_graph_const_float(g, n->inputs[k]);
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
    if (tq_node_is_onnx(a, "Relu") && a->n_inputs == 1) {
        *act = "Relu";
        return true;
    }
    if (tq_node_is_onnx(a, "Clip") && clip_bounds(g, a, lo, hi)) {
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
    int next = tq_graph_sole_consumer(g, y);
    if (next < 0)
        return 0;
    const tq_node *add = &g->nodes[next];
    if (tq_node_is_onnx(add, "Add") && add->n_inputs == 2 && add->n_outputs == 1) {
        int j = strcmp(add->inputs[0], y) == 0 ? 1 : 0;
        if (strcmp(add->inputs[1 - j], y) != 0 || strcmp(add->inputs[j], y) == 0)
            return 0;
        z = add->inputs[j];
        drop[0] = next;
        y = add->outputs[0];
        next = tq_graph_sole_consumer(g, y);
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
    int rc = tq_set_name(&n->op_type, "FusedConv");
    if (!rc)
        rc = tq_set_name(&n->domain, "com.microsoft");
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
        rc = tq_set_name(&n->outputs[0], out);
    if (rc)
        return rc;
    if (drop[1] >= 0)
        tq_graph_drop_node(g, drop[1]);
    if (drop[0] >= 0)
        tq_graph_drop_node(g, drop[0] - (drop[1] >= 0 && drop[1] < drop[0]));
    return 1;
}

/* Does m have a fp32 Conv this pass could rewrite? (Cheap pre-check so
 * models without one are not copied.) */
bool tq_fuse_fp32_applies(const tq_model *m)
{
    for (int i = 0; i < m->graph.n_nodes; i++)
        if (tq_node_is_onnx(&m->graph.nodes[i], "Conv"))
            return true;
    return false;
}

int tq_fuse_fp32(tq_model *m, int *n_fused, tq_error *err)
{
    tq_graph *g = &m->graph;
    /* BN folds first: the Conv must be plain Conv for them, and the Add or
     * activation then follows the folded Conv directly. */
    int folded = tq_fold_batchnorm(m, err);
    if (folded < 0)
        return folded;
    *n_fused = folded;
    /* Node indices shift as nodes are dropped: restart after each rewrite. */
    for (bool again = true; again;) {
        again = false;
        for (int i = 0; i < g->n_nodes; i++) {
            if (!tq_conv_has_const_weights(g, i))
                continue;
            int r = fuse_epilogue(g, i);
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
    return TQ_OK;
}
