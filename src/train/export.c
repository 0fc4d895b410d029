/* Building the trained regressor's ONNX graph in the IR (see export.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/export.h"
#include "util/error.h"

static int add_io(tq_value_info **arr, int *n, const char *name, int rank, int64_t width)
{
    tq_value_info *v = realloc(*arr, (size_t)(*n + 1) * sizeof *v);
    if (!v)
        return -1;
    *arr = v;
    v = &v[*n];
    memset(v, 0, sizeof *v);
    (*n)++;
    v->name = strdup(name);
    v->dtype = TQ_FLOAT;
    v->rank = rank;
    v->dims[0] = -1;
    v->dim_params[0] = strdup("batch");
    if (rank == 2)
        v->dims[1] = width;
    return v->name && v->dim_params[0] ? 0 : -1;
}

/* One Gemm (transB=1, weights [out, in] as PyTorch exports them). */
static int add_gemm(tq_graph *g, int l, const char *in, const char *out, const float *w,
                    const float *b, int64_t n_out, int64_t n_in)
{
    char wn[32], bn[32], nn[32];
    snprintf(wn, sizeof wn, "fc%d.weight", l);
    snprintf(bn, sizeof bn, "fc%d.bias", l);
    snprintf(nn, sizeof nn, "fc%d", l);
    int64_t wd[2] = {n_out, n_in}, bd[1] = {n_out};
    if (!tq_graph_add_initializer(g, wn, TQ_FLOAT, 2, wd, w) ||
        !tq_graph_add_initializer(g, bn, TQ_FLOAT, 1, bd, b))
        return -1;
    tq_node *n = tq_graph_add_node(g, "Gemm", nn);
    tq_attr *a;
    if (!n || tq_node_add_input(n, in) || tq_node_add_input(n, wn) || tq_node_add_input(n, bn) ||
        tq_node_add_output(n, out) || !(a = tq_node_add_attr(n, "transB", TQ_ATTR_INT)))
        return -1;
    a->i = 1;
    return 0;
}

static int build(tq_model *m, const tq_mlp *mlp, int n_features, int codec_width,
                 double y_mean, double y_std, const char *doc)
{
    m->ir_version = 8;
    m->producer_name = strdup("tinyq");
    m->producer_version = strdup(tq_version());
    m->doc_string = strdup(doc ? doc : "");
    m->opsets = calloc(1, sizeof *m->opsets);
    if (!m->producer_name || !m->producer_version || !m->doc_string || !m->opsets)
        return -1;
    m->n_opsets = 1;
    if (!(m->opsets[0].domain = strdup("")))
        return -1;
    m->opsets[0].version = 17;
    tq_graph *g = &m->graph;
    if (!(g->name = strdup("tinyq_fr_regressor")))
        return -1;
    if (add_io(&g->inputs, &g->n_inputs, "features", 2, n_features) ||
        (codec_width && add_io(&g->inputs, &g->n_inputs, "codec", 2, codec_width)) ||
        add_io(&g->outputs, &g->n_outputs, "score", 1, 0))
        return -1;
    const char *x = "features";
    if (codec_width) {
        tq_node *n = tq_graph_add_node(g, "Concat", "concat_inputs");
        tq_attr *a;
        if (!n || tq_node_add_input(n, "features") || tq_node_add_input(n, "codec") ||
            tq_node_add_output(n, "x") || !(a = tq_node_add_attr(n, "axis", TQ_ATTR_INT)))
            return -1;
        a->i = 1;
        x = "x";
    }
    if (mlp->width[0] != n_features + codec_width)
        return -1;
    char prev[32], cur[32];
    snprintf(prev, sizeof prev, "%s", x);
    int rc = 0;
    for (int l = 0; !rc && l < mlp->n_layers; l++) {
        int64_t ni = mlp->width[l], no = mlp->width[l + 1];
        int last = l + 1 == mlp->n_layers;
        float *w = malloc((size_t)(ni * no) * sizeof *w), *b = malloc((size_t)no * sizeof *b);
        if (!w || !b) {
            free(w);
            free(b);
            return -1;
        }
        /* the last layer also undoes the target scaling of training */
        double scale = last ? y_std : 1.0, shift = last ? y_mean : 0.0;
        for (int64_t k = 0; k < ni * no; k++)
            w[k] = (float)(mlp->w[l][k] * scale);
        for (int64_t k = 0; k < no; k++)
            b[k] = (float)(mlp->b[l][k] * scale + shift);
        snprintf(cur, sizeof cur, last ? "fc%d_out" : "fc%d_out", l);
        rc = add_gemm(g, l, prev, cur, w, b, no, ni);
        free(w);
        free(b);
        if (rc)
            return -1;
        if (!last) {
            char rn[32], ro[32];
            snprintf(rn, sizeof rn, "relu%d", l);
            snprintf(ro, sizeof ro, "relu%d_out", l);
            tq_node *n = tq_graph_add_node(g, "Relu", rn);
            if (!n || tq_node_add_input(n, cur) || tq_node_add_output(n, ro))
                return -1;
            snprintf(prev, sizeof prev, "%s", ro);
        } else {
            snprintf(prev, sizeof prev, "%s", cur);
        }
    }
    /* [batch, 1] -> [batch] */
    int64_t axes = 1, ad[1] = {1};
    if (!tq_graph_add_initializer(g, "squeeze_axes", TQ_INT64, 1, ad, &axes))
        return -1;
    tq_node *n = tq_graph_add_node(g, "Squeeze", "squeeze_score");
    if (!n || tq_node_add_input(n, prev) || tq_node_add_input(n, "squeeze_axes") ||
        tq_node_add_output(n, "score"))
        return -1;
    return 0;
}

int tq_train_export_model(const tq_mlp *mlp, int n_features, int codec_width, double y_mean,
                          double y_std, const char *doc, tq_model **out, tq_error *err)
{
    tq_model *m = tq_model_new();
    if (!m || build(m, mlp, n_features, codec_width, y_mean, y_std, doc)) {
        tq_model_free(&m);
        return tq_fail(err, TQ_ENOMEM, "out of memory building the ONNX graph");
    }
    *out = m;
    return TQ_OK;
}
