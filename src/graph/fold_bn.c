/* BatchNormalization folding into Conv (see fold_bn.h for the algebra). */
#include "graph/fold_bn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_query.h"
#include "util/error.h"

bool tq_conv_has_const_weights(const tq_graph *g, int i)
{
    const tq_node *n = &g->nodes[i];
    if (!tq_node_is_onnx(n, "Conv") || n->n_inputs < 2 || n->n_outputs != 1)
        return false;
    const tq_tensor *w = tq_graph_const_float(g, n->inputs[1]);
    if (!w || w->rank < 3 || w->rank > 4 || w->dims[0] < 1)
        return false;
    if (n->n_inputs > 2 && n->inputs[2][0]) {
        const tq_tensor *b = tq_graph_const_float(g, n->inputs[2]);
        if (!b || b->rank != 1 || b->dims[0] != w->dims[0])
            return false;
    }
    return true;
}

/* Conv at ci -> BatchNormalization: fold. Returns 1 when folded, 0 when the
 * pattern does not apply, a negative code on allocation failure. */
static int fold_one(tq_graph *g, int ci)
{
    tq_node *conv = &g->nodes[ci];
    int bi = tq_graph_sole_consumer(g, conv->outputs[0]);
    if (bi < 0)
        return 0;
    const tq_node *bn = &g->nodes[bi];
    if (!tq_node_is_onnx(bn, "BatchNormalization") || bn->n_inputs != 5 ||
        strcmp(bn->inputs[0], conv->outputs[0]) != 0)
        return 0;
    for (int k = 1; k < bn->n_outputs; k++)
        if (bn->outputs[k][0]) /* training outputs (mean/var updates) */
            return 0;
    if (tq_node_attr_int(bn, "training_mode", 0) != 0 || tq_node_attr_int(bn, "spatial", 1) != 1)
        return 0;
    const tq_tensor *w = tq_graph_const_float(g, conv->inputs[1]);
    int64_t cout = w->dims[0];
    const tq_tensor *p[4];
    for (int k = 0; k < 4; k++) {
        p[k] = tq_graph_const_float(g, bn->inputs[1 + k]);
        if (!p[k] || tq_tensor_numel(p[k]) != cout || p[k]->rank != 1)
            return 0;
    }
    const tq_tensor *b = conv->n_inputs > 2 && conv->inputs[2][0]
                             ? tq_graph_const_float(g, conv->inputs[2])
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
        rc = tq_graph_fresh_name(g, base, "_tq_bn_w", wname, sizeof wname);
    int64_t bdims[1] = {cout};
    if (rc == TQ_OK && !tq_graph_add_initializer(g, wname, TQ_FLOAT, w->rank, w->dims, nw))
        rc = TQ_ENOMEM;
    if (rc == TQ_OK)
        rc = tq_graph_fresh_name(g, base, "_tq_bn_b", bname, sizeof bname);
    if (rc == TQ_OK && !tq_graph_add_initializer(g, bname, TQ_FLOAT, 1, bdims, nb))
        rc = TQ_ENOMEM;
    free(nw);
    free(nb);
    if (rc)
        return rc;
    /* w and p[] may have moved with the initializer array: not used below. */
    conv = &g->nodes[ci];
    if ((rc = tq_set_name(&conv->inputs[1], wname)))
        return rc;
    if (conv->n_inputs > 2)
        rc = tq_set_name(&conv->inputs[2], bname);
    else
        rc = tq_node_add_input(conv, bname);
    if (rc == TQ_OK)
        rc = tq_set_name(&conv->outputs[0], g->nodes[bi].outputs[0]);
    if (rc)
        return rc;
    tq_graph_drop_node(g, bi);
    return 1;
}

int tq_fold_batchnorm(tq_model *m, tq_error *err)
{
    tq_graph *g = &m->graph;
    int folded = 0;
    /* Node indices shift as BN nodes are dropped: restart after each fold. */
    for (bool again = true; again;) {
        again = false;
        for (int i = 0; i < g->n_nodes; i++) {
            if (!tq_conv_has_const_weights(g, i))
                continue;
            int r = fold_one(g, i);
            if (r < 0)
                return tq_fail(err, TQ_ENOMEM, "%s: out of memory folding BatchNormalization",
                               m->path ? m->path : "model");
            if (r > 0) {
                folded++;
                again = true;
                break;
            }
        }
    }
    return folded;
}
