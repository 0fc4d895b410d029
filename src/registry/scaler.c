/* Where the StandardScaler is applied, so that it is applied exactly once.
 * vmaf_tiny_v2..v4 bake it into the graph (input -> Sub(mean) -> Div(std))
 * and ALSO list it in the sidecar; fr_regressor_v1/v2 have it in the sidecar
 * only. Applying the sidecar scaler on top of a baked one would silently
 * double-scale, so a baked scaler must be recognised and must agree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_internal.h"
#include "util/error.h"

/* The float32 constant feeding value `name`: an initializer, or the output of
 * a Constant node (value / value_floats). NULL when not constant or not float. */
static const float *const_floats(const tq_model *m, const char *name, int64_t *n)
{
    const tq_graph *g = &m->graph;
    const tq_tensor *t = tq_graph_find_initializer(g, name);
    for (int i = 0; !t && i < g->n_nodes; i++) {
        const tq_node *nd = &g->nodes[i];
        if (strcmp(nd->op_type, "Constant") != 0 || nd->n_outputs < 1 ||
            strcmp(nd->outputs[0], name) != 0)
            continue;
        const tq_attr *a = tq_node_attr(nd, "value");
        if (a && a->type == TQ_ATTR_TENSOR)
            t = a->t;
        const tq_attr *fl = tq_node_attr(nd, "value_floats");
        if (!t && fl && fl->type == TQ_ATTR_FLOATS) {
            *n = fl->n;
            return fl->floats;
        }
        break;
    }
    if (!t || t->dtype != TQ_FLOAT)
        return NULL;
    *n = tq_tensor_numel(t);
    return t->data;
}

/* The single node consuming `value`, or NULL when there are none or several
 * (a scaler whose raw input also feeds other nodes is not a plain scaler). */
static const tq_node *only_consumer(const tq_graph *g, const char *value)
{
    const tq_node *found = NULL;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (strcmp(g->nodes[i].inputs[k], value) == 0) {
                if (found)
                    return NULL;
                found = &g->nodes[i];
            }
    return found;
}

int tq_baked_scaler_find(const tq_model *m, const char *input, float **mean, float **std,
                         int64_t *n)
{
    *mean = *std = NULL;
    *n = 0;
    const tq_graph *g = &m->graph;
    const tq_node *sub = only_consumer(g, input);
    if (!sub || strcmp(sub->op_type, "Sub") != 0 || sub->domain[0] || sub->n_inputs != 2 ||
        strcmp(sub->inputs[0], input) != 0 || sub->n_outputs != 1)
        return 0;
    const tq_node *div = only_consumer(g, sub->outputs[0]);
    if (!div || strcmp(div->op_type, "Div") != 0 || div->domain[0] || div->n_inputs != 2 ||
        strcmp(div->inputs[0], sub->outputs[0]) != 0)
        return 0;
    int64_t nm = 0, ns = 0;
    const float *cm = const_floats(m, sub->inputs[1], &nm);
    const float *cs = const_floats(m, div->inputs[1], &ns);
    if (!cm || !cs || nm != ns || nm <= 0)
        return 0;
    *mean = malloc((size_t)nm * sizeof(float));
    *std = malloc((size_t)nm * sizeof(float));
    if (!*mean || !*std) {
        free(*mean);
        free(*std);
        *mean = *std = NULL;
        return 0;
    }
    memcpy(*mean, cm, (size_t)nm * sizeof(float));
    memcpy(*std, cs, (size_t)nm * sizeof(float));
    *n = nm;
    return 1;
}

/* A sidecar double and a graph float agree when the float is the double
 * rounded to float32, allowing one unit in the last place for exporters that
 * computed the constant in float32 arithmetic. */
static int same_within_f32(double sidecar, float graph)
{
    double ulp = fabs((double)nextafterf((float)sidecar, INFINITY) - (double)(float)sidecar);
    return fabs((double)graph - sidecar) <= ulp;
}

int tq_scaler_decide(const tq_model *m, const char *input, const tq_sidecar *sc,
                     const char *where, tq_scaler_site *site, tq_error *err)
{
    float *bm = NULL, *bs = NULL;
    int64_t n = 0;
    int baked = tq_baked_scaler_find(m, input, &bm, &bs, &n);
    int rc = TQ_OK;
    if (!baked) {
        *site = sc && sc->n_scaler ? TQ_SCALER_LOADER : TQ_SCALER_NONE;
    } else {
        *site = TQ_SCALER_GRAPH;
        if (sc && sc->n_scaler) {
            if (sc->n_scaler != n)
                rc = tq_fail(err, TQ_EFORMAT, "%s: sidecar scaler has %d features but the "
                             "scaler baked into the graph at input '%s' has %lld",
                             where, sc->n_scaler, input, (long long)n);
            for (int64_t i = 0; !rc && i < n; i++)
                if (!same_within_f32(sc->mean[i], bm[i]) || !same_within_f32(sc->std[i], bs[i]))
                    rc = tq_fail(err, TQ_EFORMAT,
                                 "%s: feature %lld: sidecar scaler (mean %.9g, std %.9g) differs "
                                 "from the one baked into the graph (mean %.9g, std %.9g); "
                                 "refusing to guess which applies", where, (long long)i,
                                 sc->mean[i], sc->std[i], bm[i], bs[i]);
        }
    }
    free(bm);
    free(bs);
    return rc;
}

const char *tq_scaler_site_name(tq_scaler_site s)
{
    switch (s) {
    case TQ_SCALER_LOADER: return "loader (sidecar scaler)";
    case TQ_SCALER_GRAPH: return "graph (baked Sub/Div; sidecar scaler not re-applied)";
    default: return "none";
    }
}
