/* BatchNormalization folding into Conv:
 *   y = gamma * (conv(x, W) + b - mean) / sqrt(var + eps) + beta
 *     = conv(x, W * s) + (b - mean) * s + beta,   s = gamma / sqrt(var + eps)
 * computed in double, stored as float32. */
#include "graph/fold_bn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static int count_uses(const tq_graph *g, const char *name)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            n += strcmp(g->nodes[i].inputs[k], name) == 0;
    for (int i = 0; i < g->n_outputs; i++)
        n += strcmp(g->outputs[i].name, name) == 0;
    return n;
}

static int producer(const tq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (strcmp(g->nodes[i].outputs[k], name) == 0)
                return i;
    return -1;
}

static const tq_tensor *const_f32(const tq_graph *g, const tq_node *n, int i, int64_t len)
{
    if (i >= n->n_inputs || !n->inputs[i][0])
        return NULL;
    const tq_tensor *t = tq_graph_find_initializer(g, n->inputs[i]);
    if (!t || t->dtype != TQ_FLOAT || tq_tensor_numel(t) != len)
        return NULL;
    return t;
}

/* A fresh initializer name: base + "_bn", then "_bn1", "_bn2", ... */
static char *fresh_name(const tq_graph *g, const char *base)
{
    size_t n = strlen(base) + 24;
    char *s = malloc(n);
    for (int k = 0; s; k++) {
        if (k)
            snprintf(s, n, "%s_bn%d", base, k);
        else
            snprintf(s, n, "%s_bn", base);
        if (!tq_graph_find_initializer(g, s) && producer(g, s) < 0 && count_uses(g, s) == 0)
            break;
    }
    return s;
}

static int fold_one(tq_graph *g, int conv_i, int bn_i, tq_error *err)
{
    tq_node *conv = &g->nodes[conv_i];
    const tq_node *bn = &g->nodes[bn_i];
    const tq_tensor *w = tq_graph_find_initializer(g, conv->inputs[1]);
    if (!w || w->dtype != TQ_FLOAT || w->rank < 3)
        return 0;
    int64_t m = w->dims[0], per = tq_tensor_numel(w) / (m ? m : 1);
    const tq_tensor *b = conv->n_inputs > 2 && conv->inputs[2][0] ? const_f32(g, conv, 2, m) : NULL;
    if (conv->n_inputs > 2 && conv->inputs[2][0] && !b)
        return 0;
    const tq_tensor *gamma = const_f32(g, bn, 1, m), *beta = const_f32(g, bn, 2, m);
    const tq_tensor *mean = const_f32(g, bn, 3, m), *var = const_f32(g, bn, 4, m);
    if (!gamma || !beta || !mean || !var)
        return 0;
    double eps = tq_node_attr_float(bn, "epsilon", 1e-5f);

    float *nw = malloc(w->nbytes), *nb = malloc((size_t)m * sizeof(float));
    char *wname = fresh_name(g, conv->inputs[1]);
    char *bname = fresh_name(g, b ? conv->inputs[2] : conv->inputs[1]);
    char *out = strdup(bn->outputs[0]);
    int rc = TQ_OK;
    if (!nw || !nb || !wname || !bname || !out) {
        rc = tq_fail(err, TQ_ENOMEM, "out of memory folding BatchNormalization");
        goto done;
    }
    if (strcmp(wname, bname) == 0) { /* both derived from the weight name */
        free(bname);
        size_t n = strlen(wname) + 3;
        bname = malloc(n);
        if (!bname) {
            rc = tq_fail(err, TQ_ENOMEM, "out of memory folding BatchNormalization");
            goto done;
        }
        snprintf(bname, n, "%s_b", wname);
    }
    const float *wf = w->data, *g_ = gamma->data, *be = beta->data, *mu = mean->data,
                *va = var->data;
    for (int64_t o = 0; o < m; o++) {
        double s = (double)g_[o] / sqrt((double)va[o] + eps);
        for (int64_t k = 0; k < per; k++)
            nw[o * per + k] = (float)((double)wf[o * per + k] * s);
        double bias = b ? (double)((const float *)b->data)[o] : 0.0;
        nb[o] = (float)((bias - (double)mu[o]) * s + (double)be[o]);
    }
    int64_t bdims[1] = {m}, wdims[TQ_MAX_RANK];
    int wrank = w->rank;
    memcpy(wdims, w->dims, sizeof wdims);
    /* Adding initializers may move the array: w and the BN tensors are not
     * touched after this. */
    if (!tq_graph_add_initializer(g, wname, TQ_FLOAT, wrank, wdims, nw) ||
        !tq_graph_add_initializer(g, bname, TQ_FLOAT, 1, bdims, nb)) {
        rc = tq_fail(err, TQ_ENOMEM, "out of memory folding BatchNormalization");
        goto done;
    }
    free(conv->inputs[1]);
    conv->inputs[1] = wname;
    wname = NULL;
    if (conv->n_inputs > 2) {
        free(conv->inputs[2]);
        conv->inputs[2] = bname;
    } else if (tq_node_add_input(conv, bname) != TQ_OK) {
        rc = tq_fail(err, TQ_ENOMEM, "out of memory folding BatchNormalization");
        goto done;
    } else {
        free(bname);
    }
    bname = NULL;
    free(conv->outputs[0]);
    conv->outputs[0] = out;
    out = NULL;
    tq_node_clear(&g->nodes[bn_i]);
    memmove(&g->nodes[bn_i], &g->nodes[bn_i + 1], (size_t)(g->n_nodes - bn_i - 1) * sizeof(tq_node));
    g->n_nodes--;
    rc = 1;
done:
    free(nw);
    free(nb);
    free(wname);
    free(bname);
    free(out);
    return rc;
}

int tq_fold_batchnorm(tq_model *m, tq_error *err)
{
    tq_graph *g = &m->graph;
    int folded = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const tq_node *bn = &g->nodes[i];
        if (strcmp(bn->op_type, "BatchNormalization") != 0 || bn->n_outputs != 1 ||
            bn->n_inputs != 5 || tq_node_attr_int(bn, "training_mode", 0) != 0)
            continue;
        int c = producer(g, bn->inputs[0]);
        if (c < 0 || strcmp(g->nodes[c].op_type, "Conv") != 0 || g->nodes[c].n_outputs != 1 ||
            g->nodes[c].n_inputs < 2 || count_uses(g, bn->inputs[0]) != 1 ||
            (g->nodes[c].domain && g->nodes[c].domain[0]))
            continue;
        int rc = fold_one(g, c, i, err);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            folded++;
            i--; /* the node at i was removed */
        }
    }
    return folded;
}
