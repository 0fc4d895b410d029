/* Graph-level forward/backward for QAT (autograd.h): builds a node list from
 * the IR in topological order with fake-quant nodes spliced in where the
 * static QDQ export quantises, infers shapes on every forward pass (so the
 * batch size may change), and runs the kernels of autograd_kernels.h. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_query.h"
#include "quant/quant_internal.h"
#include "train/autograd.h"
#include "train/autograd_kernels.h"
#include "util/error.h"

enum ag_op {
    OP_CONV, OP_GEMM, OP_MATMUL, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_RELU, OP_GAP,
    OP_FLATTEN, OP_RESHAPE, OP_SQUEEZE, OP_UNSQUEEZE, OP_IDENTITY, OP_CONCAT,
    OP_BN, OP_CLIP, OP_SHAPE, OP_REDUCE_MEAN, OP_FQ_ACT, OP_FQ_W,
};

static const struct { const char *name; enum ag_op op; } op_names[] = {
    {"Conv", OP_CONV}, {"Gemm", OP_GEMM}, {"MatMul", OP_MATMUL}, {"Add", OP_ADD},
    {"Sub", OP_SUB}, {"Mul", OP_MUL}, {"Div", OP_DIV}, {"Relu", OP_RELU},
    {"GlobalAveragePool", OP_GAP}, {"Flatten", OP_FLATTEN}, {"Reshape", OP_RESHAPE},
    {"Squeeze", OP_SQUEEZE}, {"Unsqueeze", OP_UNSQUEEZE}, {"Identity", OP_IDENTITY},
    {"Concat", OP_CONCAT}, {"BatchNormalization", OP_BN}, {"Clip", OP_CLIP},
    {"Shape", OP_SHAPE}, {"ReduceMean", OP_REDUCE_MEAN},
};

#define AG_MAX_IN 8

typedef struct ag_value {
    const char *name;      /* borrowed from the model (or a static label) */
    int rank;
    int64_t dims[TQ_MAX_RANK];
    float *data, *grad;
    int64_t cap, gcap;     /* allocated elements of data / grad */
    int64_t *ints;         /* int64 constant (shapes, axes) */
    int64_t n_ints;
    bool is_const, is_param, needs_grad, is_input;
    int64_t sample_numel;  /* graph inputs: elements per sample */
    int fq_src;            /* output of an activation fake quant: the value it reads, else -1 */
} ag_value;

typedef struct ag_node {
    enum ag_op op;
    const tq_node *src;    /* attributes and the name for messages; NULL for fake quant */
    int in[AG_MAX_IN];
    int n_in;
    int out;
    tq_agk_conv conv;
    float *col;
    int64_t col_cap;
    /* fake quant */
    int axis;              /* weights: channel axis, -1 per tensor */
    float rmin, rmax;      /* activations: calibrated range */
    bool have_range;
    float *cmin, *cmax;    /* activations per channel (axis >= 0): [n_crange] ranges */
    int64_t n_crange;
    float *scale, *zp;
    int64_t n_scale;
    float qmin, qmax;
    float *bn_a, *bn_b;    /* BatchNormalization (inference) as y = a[c] x + b[c] */
    int64_t bn_c;
} ag_node;

struct tq_ag_graph {
    ag_value *v;
    int n_v;
    ag_node *nodes;
    int n_nodes;
    int *inputs;           /* value index of each graph input */
    int n_inputs;
    int output;            /* value index of the first graph output */
    bool fake_quant;
    tq_ag_range_mode range_mode;
    const char *model_name;
};

/* ------------------------------------------------------------------ build */

static int add_value(tq_ag_graph *g, const char *name)
{
    ag_value *nv = realloc(g->v, (size_t)(g->n_v + 1) * sizeof(*nv));
    if (!nv)
        return -1;
    g->v = nv;
    memset(&g->v[g->n_v], 0, sizeof(ag_value));
    g->v[g->n_v].name = name;
    g->v[g->n_v].fq_src = -1;
    return g->n_v++;
}

static ag_node *add_node(tq_ag_graph *g, enum ag_op op, const tq_node *src)
{
    ag_node *nn = realloc(g->nodes, (size_t)(g->n_nodes + 1) * sizeof(*nn));
    if (!nn)
        return NULL;
    g->nodes = nn;
    ag_node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof(*n));
    n->op = op;
    n->src = src;
    n->axis = -1;
    return n;
}

static int find_value(const tq_ag_graph *g, const char *name)
{
    for (int i = g->n_v - 1; i >= 0; i--)
        if (strcmp(g->v[i].name, name) == 0)
            return i;
    return -1;
}

static int set_shape(ag_value *v, int rank, const int64_t *dims)
{
    v->rank = rank;
    for (int d = 0; d < rank; d++)
        v->dims[d] = dims[d];
    return 0;
}

static int64_t numel(const ag_value *v)
{
    int64_t n = 1;
    for (int d = 0; d < v->rank; d++)
        n *= v->dims[d];
    return n;
}

/* A constant from an initializer or a Constant node's tensor. */
static int add_const(tq_ag_graph *g, const char *name, const tq_tensor *t, tq_error *err)
{
    int vi = add_value(g, name);
    if (vi < 0)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    ag_value *v = &g->v[vi];
    v->is_const = true;
    if (t->rank > TQ_MAX_RANK)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: tensor '%s' has rank %d", g->model_name, name,
                       t->rank);
    set_shape(v, t->rank, t->dims);
    int64_t n = tq_tensor_numel(t);
    if (n < 0)
        return tq_fail(err, TQ_EFORMAT, "%s: tensor '%s' has a bad shape", g->model_name, name);
    if (t->dtype == TQ_FLOAT || t->dtype == TQ_FLOAT16) {
        v->data = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!v->data)
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++)
            v->data[i] = t->dtype == TQ_FLOAT ? ((const float *)t->data)[i]
                                              : tq_half_to_float(((const uint16_t *)t->data)[i]);
        v->cap = n;
    } else if (t->dtype == TQ_INT64 || t->dtype == TQ_INT32) {
        v->ints = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        if (!v->ints)
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++)
            v->ints[i] = t->dtype == TQ_INT64 ? ((const int64_t *)t->data)[i]
                                              : ((const int32_t *)t->data)[i];
        v->n_ints = n;
    }
    /* other types stay without data: an op that reads them fails by name */
    return vi;
}

static bool is_selected_quant(const tq_quant_settings *qs, const tq_graph *mg, const tq_node *n)
{
    if (!qs || !tq_quant_selected(qs, n))
        return false;
    if (strcmp(n->op_type, "Conv") && strcmp(n->op_type, "Gemm") && strcmp(n->op_type, "MatMul"))
        return false;
    return n->n_inputs >= 2 && n->inputs[0][0] && tq_quant_float_init(mg, n, 1) != NULL;
}

/* Names whose readers see a Q/DQ pair in the static export. */
typedef struct fq_plan {
    const char **names;
    int n;
} fq_plan;

static int plan_add(fq_plan *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return 0;
    const char **nn = realloc(p->names, (size_t)(p->n + 1) * sizeof(*nn));
    if (!nn)
        return -1;
    p->names = nn;
    p->names[p->n++] = name;
    return 0;
}

static int plan_fake_quant(const tq_graph *mg, const tq_quant_settings *qs, fq_plan *p)
{
    for (int i = 0; i < mg->n_nodes; i++) {
        const tq_node *n = &mg->nodes[i];
        if (!is_selected_quant(qs, mg, n))
            continue;
        if (!tq_graph_find_initializer(mg, n->inputs[0]) && plan_add(p, n->inputs[0]))
            return -1;
        if (qs->float_outputs)
            continue; /* as the export: outputs only as inputs of quantised nodes */
        int ri = tq_graph_sole_consumer(mg, n->outputs[0]);
        const tq_node *r = ri >= 0 ? &mg->nodes[ri] : NULL;
        /* A Relu is folded into the output Q/DQ; a Clip keeps its node but the
         * output Q/DQ takes the Clip's output range, and since that range lies
         * inside [min, max], clip(fq(y)) = fq(clip(y)): the fake quant goes
         * after either. */
        bool relu = r && (strcmp(r->op_type, "Relu") == 0 || strcmp(r->op_type, "Clip") == 0) &&
                    !is_selected_quant(qs, mg, r);
        if (plan_add(p, relu ? r->outputs[0] : n->outputs[0]))
            return -1;
    }
    return 0;
}

static bool plan_has(const fq_plan *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return true;
    return false;
}

/* Splice an activation fake-quant after value vi; returns the new value. */
static int add_fq_act(tq_ag_graph *g, int vi, tq_dtype at, tq_error *err)
{
    int out = add_value(g, g->v[vi].name);
    ag_node *n = out < 0 ? NULL : add_node(g, OP_FQ_ACT, NULL);
    if (!n)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    n->in[0] = vi;
    n->n_in = 1;
    n->out = out;
    g->v[out].fq_src = vi;
    n->qmin = at == TQ_UINT8 ? 0.0f : -128.0f;
    n->qmax = at == TQ_UINT8 ? 255.0f : 127.0f;
    return out;
}

static int add_fq_weight(tq_ag_graph *g, int vi, int axis, bool reduce_range, tq_error *err)
{
    int out = add_value(g, g->v[vi].name);
    ag_node *n = out < 0 ? NULL : add_node(g, OP_FQ_W, NULL);
    if (!n)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    n->in[0] = vi;
    n->n_in = 1;
    n->out = out;
    n->axis = axis;
    /* symmetric int8 weights, as the static export ([-64, 64] with reduce_range) */
    n->qmin = reduce_range ? -64.0f : -127.0f;
    n->qmax = reduce_range ? 64.0f : 127.0f;
    return out;
}

/* Inference BatchNormalization left in the graph (one the quantiser does not
 * fold either): a constant per-channel affine map, not trained. */
static int bn_prepare(tq_ag_graph *g, ag_node *n, int n_in, const int *in, tq_error *err)
{
    const char *nn = n->src->name && n->src->name[0] ? n->src->name : "BatchNormalization";
    if (n_in != 5 || tq_node_attr_int(n->src, "training_mode", 0) != 0)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: node '%s': only inference BatchNormalization "
                       "(5 inputs) is supported", g->model_name, nn);
    int64_t c = -1;
    for (int k = 1; k < 5; k++) {
        const ag_value *v = &g->v[in[k]];
        if (!v->is_const || !v->data || (c >= 0 && numel(v) != c))
            return tq_fail(err, TQ_EUNSUPPORTED, "%s: node '%s': scale, bias, mean and var must "
                           "be float constants of one length", g->model_name, nn);
        c = numel(v);
    }
    n->bn_a = malloc((size_t)(c ? c : 1) * sizeof(float));
    n->bn_b = malloc((size_t)(c ? c : 1) * sizeof(float));
    if (!n->bn_a || !n->bn_b)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    double eps = tq_node_attr_float(n->src, "epsilon", 1e-5f);
    const float *gm = g->v[in[1]].data, *bt = g->v[in[2]].data, *mu = g->v[in[3]].data,
                *var = g->v[in[4]].data;
    for (int64_t i = 0; i < c; i++) {
        double a = (double)gm[i] / sqrt((double)var[i] + eps);
        n->bn_a[i] = (float)a;
        n->bn_b[i] = (float)((double)bt[i] - (double)mu[i] * a);
    }
    n->bn_c = c;
    return 0;
}

static int find_op(const char *name)
{
    for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
        if (strcmp(op_names[i].name, name) == 0)
            return (int)op_names[i].op;
    return -1;
}

static bool is_model_input(const tq_graph *mg, const char *name)
{
    for (int i = 0; i < mg->n_inputs; i++)
        if (strcmp(mg->inputs[i].name, name) == 0)
            return true;
    return false;
}

static int build_node(tq_ag_graph *g, const tq_model *m, const tq_node *n,
                      const tq_quant_settings *qs, const fq_plan *plan, tq_error *err)
{
    const tq_graph *mg = &m->graph;
    const char *nn = n->name && n->name[0] ? n->name : n->op_type;
    if (strcmp(n->op_type, "Constant") == 0) {
        const tq_attr *a = tq_node_attr(n, "value");
        if (!a || a->type != TQ_ATTR_TENSOR || !a->t || n->n_outputs < 1)
            return tq_fail(err, TQ_EUNSUPPORTED, "%s: node '%s' (Constant): only the 'value' "
                           "tensor form is supported for training", g->model_name, nn);
        int rc = add_const(g, n->outputs[0], a->t, err);
        return rc < 0 ? rc : 0;
    }
    int op = find_op(n->op_type);
    if (op < 0)
        return tq_fail(err, TQ_EUNSUPPORTED,
                       "%s: node '%s': op %s has no backward pass for QAT (supported: Conv, Gemm, "
                       "MatMul, Relu, Add, Sub, Mul, Div, GlobalAveragePool, Flatten, Reshape, "
                       "Squeeze, Unsqueeze, Concat, Identity, Constant, BatchNormalization, Clip, Shape, "
                       "ReduceMean over the trailing spatial axes)",
                       g->model_name, nn, n->op_type);
    if (n->n_inputs > AG_MAX_IN || n->n_outputs < 1 || n->n_inputs < 1)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: node '%s' (%s): %d inputs / %d outputs",
                       g->model_name, nn, n->op_type, n->n_inputs, n->n_outputs);
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: node '%s': domain '%s' is not supported",
                       g->model_name, nn, n->domain);
    if (op == OP_IDENTITY && n->inputs[0][0]) {
        /* Identity of a constant (exporters use it to share initializers):
         * a constant too, so a BatchNormalization reading it stays foldable. */
        int src = find_value(g, n->inputs[0]);
        if (src >= 0 && g->v[src].is_const && !g->v[src].is_param) {
            int vi = add_value(g, n->outputs[0]);
            if (vi < 0)
                return tq_fail(err, TQ_ENOMEM, "out of memory");
            ag_value *s = &g->v[src], *v = &g->v[vi];
            v->is_const = true;
            set_shape(v, s->rank, s->dims);
            if (s->data && (v->data = malloc((size_t)(s->cap ? s->cap : 1) * sizeof(float))))
                memcpy(v->data, s->data, (size_t)s->cap * sizeof(float)), v->cap = s->cap;
            if (s->ints && (v->ints = malloc((size_t)(s->n_ints ? s->n_ints : 1) * sizeof(int64_t))))
                memcpy(v->ints, s->ints, (size_t)s->n_ints * sizeof(int64_t)), v->n_ints = s->n_ints;
            if ((s->data && !v->data) || (s->ints && !v->ints))
                return tq_fail(err, TQ_ENOMEM, "out of memory");
            return 0;
        }
    }
    bool quant = is_selected_quant(qs, mg, n);
    int in[AG_MAX_IN];
    int n_in = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        if (!n->inputs[k][0]) {
            in[n_in++] = -1;
            continue;
        }
        int vi = find_value(g, n->inputs[k]);
        if (vi < 0)
            return tq_fail(err, TQ_EFORMAT, "%s: node '%s' (%s): input '%s' is not produced "
                           "by any node", g->model_name, nn, n->op_type, n->inputs[k]);
        /* float_outputs: as in the export, only a quantised node's activation
         * input reads the fake-quantised value; every other reader (a skip
         * Add, a graph output path) reads the float value. */
        if (qs && qs->float_outputs && !(quant && k == 0) && g->v[vi].fq_src >= 0)
            vi = g->v[vi].fq_src;
        bool weight_slot = (op == OP_CONV || op == OP_GEMM) ? (k == 1 || k == 2)
                           : op == OP_MATMUL ? k == 1 : false;
        if (weight_slot && g->v[vi].is_const && g->v[vi].data) {
            g->v[vi].is_param = true;
            g->v[vi].needs_grad = true;
            if (quant && k == 1) {
                int axis = tq_quant_weight_axis(n);
                int fq = add_fq_weight(g, vi, qs->per_channel ? axis : -1, qs->reduce_range != 0,
                                       err);
                if (fq < 0)
                    return fq;
                g->v[fq].needs_grad = true;
                vi = fq;
            }
        }
        in[n_in++] = vi;
    }
    ag_node *an = add_node(g, (enum ag_op)op, n);
    int out = an ? add_value(g, n->outputs[0]) : -1;
    if (out < 0)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    an = &g->nodes[g->n_nodes - 1];
    memcpy(an->in, in, sizeof(in));
    if (op == OP_BN) {
        int rc = bn_prepare(g, an, n_in, in, err);
        if (rc)
            return rc;
    }
    an->n_in = n_in;
    an->out = out;
    for (int k = 0; k < n_in && op != OP_SHAPE; k++) /* a shape has no gradient */
        if (in[k] >= 0 && g->v[in[k]].needs_grad)
            g->v[out].needs_grad = true;
    if (qs && plan_has(plan, n->outputs[0])) {
        int fq = add_fq_act(g, out, qs->activation_type, err);
        if (fq < 0)
            return fq;
        g->v[fq].needs_grad = g->v[out].needs_grad;
    }
    return 0;
}

static int topo_order(const tq_graph *mg, int *order, tq_error *err, const char *model)
{
    bool *done = calloc((size_t)mg->n_nodes + 1, sizeof(bool));
    if (!done)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    int n_done = 0;
    while (n_done < mg->n_nodes) {
        int before = n_done;
        for (int i = 0; i < mg->n_nodes; i++) {
            if (done[i])
                continue;
            const tq_node *n = &mg->nodes[i];
            bool ready = true;
            for (int k = 0; k < n->n_inputs && ready; k++) {
                const char *x = n->inputs[k];
                if (!x[0] || tq_graph_find_initializer(mg, x) || is_model_input(mg, x))
                    continue;
                bool made = false;
                for (int j = 0; j < mg->n_nodes && !made; j++)
                    if (done[j])
                        for (int o = 0; o < mg->nodes[j].n_outputs; o++)
                            made |= strcmp(mg->nodes[j].outputs[o], x) == 0;
                ready = made;
            }
            if (ready) {
                done[i] = true;
                order[n_done++] = i;
            }
        }
        if (n_done == before) {
            free(done);
            return tq_fail(err, TQ_EFORMAT, "%s: the graph has a cycle or a dangling input",
                           model);
        }
    }
    free(done);
    return 0;
}

int tq_ag_build(tq_ag_graph **out, const tq_model *m, const tq_quant_settings *qs, tq_error *err)
{
    *out = NULL;
    tq_ag_graph *g = calloc(1, sizeof(*g));
    if (!g)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    const tq_graph *mg = &m->graph;
    g->model_name = m->path ? m->path : "model";
    g->fake_quant = qs != NULL;
    g->output = -1;
    fq_plan plan = {0};
    int *order = calloc((size_t)mg->n_nodes + 1, sizeof(int));
    g->inputs = calloc((size_t)mg->n_inputs + 1, sizeof(int));
    int rc = order && g->inputs ? 0 : tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!rc && qs && plan_fake_quant(mg, qs, &plan))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    for (int i = 0; i < mg->n_initializers && !rc; i++)
        rc = add_const(g, mg->initializers[i].name, &mg->initializers[i], err) < 0 ? -1 : 0;
    for (int i = 0; i < mg->n_inputs && !rc; i++) {
        const tq_value_info *vi = &mg->inputs[i];
        if (tq_graph_find_initializer(mg, vi->name))
            continue;
        if (vi->dtype != TQ_FLOAT || vi->rank < 1) {
            rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s': QAT needs float32 inputs with a "
                         "batch axis", g->model_name, vi->name);
            break;
        }
        int x = add_value(g, vi->name);
        if (x < 0) {
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
            break;
        }
        g->v[x].is_input = true;
        g->v[x].rank = vi->rank;
        g->v[x].sample_numel = 1;
        for (int d = 1; d < vi->rank; d++) {
            if (vi->dims[d] <= 0) {
                rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s': dimension %d is not fixed "
                             "(QAT needs every non-batch dimension known)", g->model_name,
                             vi->name, d);
                break;
            }
            g->v[x].dims[d] = vi->dims[d];
            g->v[x].sample_numel *= vi->dims[d];
        }
        g->inputs[g->n_inputs++] = x;
        if (!rc && qs && plan_has(&plan, vi->name))
            rc = add_fq_act(g, x, qs->activation_type, err) < 0 ? -1 : 0;
    }
    if (!rc)
        rc = topo_order(mg, order, err, g->model_name);
    for (int i = 0; i < mg->n_nodes && !rc; i++)
        rc = build_node(g, m, &mg->nodes[order[i]], qs, &plan, err);
    if (!rc) {
        if (mg->n_outputs < 1 || (g->output = find_value(g, mg->outputs[0].name)) < 0)
            rc = tq_fail(err, TQ_EFORMAT, "%s: graph output is not produced", g->model_name);
        else if (g->v[g->output].is_const)
            rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: graph output '%s' is a constant",
                         g->model_name, mg->outputs[0].name);
    }
    free(order);
    free(plan.names);
    if (rc) {
        tq_ag_free(&g);
        return rc < 0 ? rc : TQ_EINTERNAL;
    }
    *out = g;
    return TQ_OK;
}

void tq_ag_free(tq_ag_graph **gp)
{
    if (!gp || !*gp)
        return;
    tq_ag_graph *g = *gp;
    for (int i = 0; i < g->n_v; i++) {
        free(g->v[i].data);
        free(g->v[i].grad);
        free(g->v[i].ints);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].col);
        free(g->nodes[i].scale);
        free(g->nodes[i].zp);
        free(g->nodes[i].cmin);
        free(g->nodes[i].cmax);
        free(g->nodes[i].bn_a);
        free(g->nodes[i].bn_b);
    }
    free(g->v);
    free(g->nodes);
    free(g->inputs);
    free(g);
    *gp = NULL;
}

/* ------------------------------------------------------------- accessors */

int tq_ag_n_inputs(const tq_ag_graph *g) { return g->n_inputs; }
const char *tq_ag_input_name(const tq_ag_graph *g, int i) { return g->v[g->inputs[i]].name; }
int64_t tq_ag_input_sample_numel(const tq_ag_graph *g, int i)
{
    return g->v[g->inputs[i]].sample_numel;
}

const float *tq_ag_output(const tq_ag_graph *g, int64_t *n, int *rank, int64_t *dims)
{
    const ag_value *v = &g->v[g->output];
    if (n)
        *n = numel(v);
    if (rank)
        *rank = v->rank;
    if (dims)
        memcpy(dims, v->dims, sizeof(v->dims));
    return v->data;
}

void tq_ag_set_fake_quant(tq_ag_graph *g, int on) { g->fake_quant = on != 0; }
void tq_ag_set_range_mode(tq_ag_graph *g, tq_ag_range_mode mode) { g->range_mode = mode; }

void tq_ag_reset_ranges(tq_ag_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ag_node *n = &g->nodes[i];
        n->have_range = false;
        if (n->op == OP_FQ_ACT) {
            free(n->cmin);
            free(n->cmax);
            n->cmin = n->cmax = NULL;
            n->n_crange = 0;
            n->axis = -1;
        }
    }
}

/* The i-th activation fake-quant node, or NULL. */
static ag_node *act_fq(const tq_ag_graph *g, int i)
{
    for (int k = 0; k < g->n_nodes; k++)
        if (g->nodes[k].op == OP_FQ_ACT && i-- == 0)
            return &g->nodes[k];
    return NULL;
}

const char *tq_ag_act_name(const tq_ag_graph *g, int i)
{
    const ag_node *n = act_fq(g, i);
    return n ? g->v[n->out].name : NULL;
}

int tq_ag_act_range(const tq_ag_graph *g, int i, float *rmin, float *rmax)
{
    const ag_node *n = act_fq(g, i);
    if (!n || !n->have_range)
        return 0;
    *rmin = n->rmin;
    *rmax = n->rmax;
    return 1;
}

void tq_ag_set_act_range(tq_ag_graph *g, int i, float rmin, float rmax)
{
    ag_node *n = act_fq(g, i);
    if (!n)
        return;
    n->rmin = rmin;
    n->rmax = rmax;
    n->have_range = true;
}

int tq_ag_set_act_channel_ranges(tq_ag_graph *g, int i, int axis, int64_t n_ch,
                                 const float *cmin, const float *cmax)
{
    ag_node *n = act_fq(g, i);
    if (!n || axis < 0 || n_ch < 1)
        return -1;
    float *lo = malloc((size_t)n_ch * sizeof(float)), *hi = malloc((size_t)n_ch * sizeof(float));
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return -1;
    }
    memcpy(lo, cmin, (size_t)n_ch * sizeof(float));
    memcpy(hi, cmax, (size_t)n_ch * sizeof(float));
    free(n->cmin);
    free(n->cmax);
    n->cmin = lo, n->cmax = hi;
    n->n_crange = n_ch;
    n->axis = axis;
    return 0;
}

int64_t tq_ag_act_channel_ranges(const tq_ag_graph *g, int i, int *axis, const float **cmin,
                                 const float **cmax)
{
    const ag_node *n = act_fq(g, i);
    if (!n || !n->have_range || n->n_crange < 1)
        return 0;
    *axis = n->axis;
    *cmin = n->cmin;
    *cmax = n->cmax;
    return n->n_crange;
}

int tq_ag_n_fake_quant(const tq_ag_graph *g, int *n_weights, int *n_activations)
{
    int w = 0, a = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        w += g->nodes[i].op == OP_FQ_W;
        a += g->nodes[i].op == OP_FQ_ACT;
    }
    if (n_weights)
        *n_weights = w;
    if (n_activations)
        *n_activations = a;
    return w + a;
}

int tq_ag_n_params(const tq_ag_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_v; i++)
        n += g->v[i].is_param;
    return n;
}

float *tq_ag_param(tq_ag_graph *g, int i, float **grad, int64_t *n, const char **name)
{
    for (int k = 0; k < g->n_v; k++) {
        if (!g->v[k].is_param || i-- > 0)
            continue;
        ag_value *v = &g->v[k];
        /* grads of parameters exist from the start, so an optimiser can hold them */
        if (!v->grad) {
            v->grad = calloc((size_t)(numel(v) ? numel(v) : 1), sizeof(float));
            v->gcap = v->grad ? numel(v) : 0;
        }
        if (grad)
            *grad = v->grad;
        if (n)
            *n = numel(v);
        if (name)
            *name = v->name;
        return v->data;
    }
    return NULL;
}

int tq_ag_write_back(const tq_ag_graph *g, tq_model *m, tq_error *err)
{
    for (int k = 0; k < g->n_v; k++) {
        const ag_value *v = &g->v[k];
        if (!v->is_param)
            continue;
        int idx = tq_graph_initializer_index(&m->graph, v->name);
        if (idx < 0)
            return tq_fail(err, TQ_EINTERNAL, "%s: initializer '%s' vanished", g->model_name,
                           v->name);
        tq_tensor *t = &m->graph.initializers[idx];
        if (t->dtype != TQ_FLOAT || tq_tensor_numel(t) != numel(v))
            return tq_fail(err, TQ_EUNSUPPORTED, "%s: initializer '%s' is not float32 of the "
                           "trained size", g->model_name, v->name);
        memcpy(t->data, v->data, (size_t)numel(v) * sizeof(float));
    }
    return TQ_OK;
}

/* --------------------------------------------------------------- forward */

static int ensure(float **buf, int64_t *cap, int64_t n)
{
    if (n <= *cap)
        return 0;
    float *nb = realloc(*buf, (size_t)(n ? n : 1) * sizeof(float));
    if (!nb)
        return -1;
    *buf = nb;
    *cap = n;
    return 0;
}

static const char *node_label(const ag_node *n)
{
    return n->src ? (n->src->name && n->src->name[0] ? n->src->name : n->src->op_type)
                  : "fake-quant";
}

#define NODE_FAIL(g, n, ...)                                                                 \
    tq_fail(err, TQ_EUNSUPPORTED, "%s: node '%s' (%s): %s", (g)->model_name, node_label(n),  \
            (n)->src ? (n)->src->op_type : "FakeQuant", __VA_ARGS__)

static int conv_geometry(tq_ag_graph *g, ag_node *n, tq_error *err)
{
    const ag_value *x = &g->v[n->in[0]], *w = &g->v[n->in[1]];
    if (x->rank != 4 || w->rank != 4)
        return NODE_FAIL(g, n, "only 2-D convolution is supported");
    tq_agk_conv *c = &n->conv;
    memset(c, 0, sizeof(*c));
    c->n = x->dims[0], c->c = x->dims[1], c->h = x->dims[2], c->w = x->dims[3];
    c->m = w->dims[0], c->kh = w->dims[2], c->kw = w->dims[3];
    c->group = tq_node_attr_int(n->src, "group", 1);
    if (c->group < 1 || c->c % c->group || c->m % c->group || w->dims[1] != c->c / c->group)
        return NODE_FAIL(g, n, "channels do not match the weight and group");
    const tq_attr *st = tq_node_attr(n->src, "strides"), *dl = tq_node_attr(n->src, "dilations");
    const tq_attr *pd = tq_node_attr(n->src, "pads");
    c->sh = st && st->n == 2 ? st->ints[0] : 1, c->sw = st && st->n == 2 ? st->ints[1] : 1;
    c->dh = dl && dl->n == 2 ? dl->ints[0] : 1, c->dw = dl && dl->n == 2 ? dl->ints[1] : 1;
    int64_t pt = 0, pl = 0, pb = 0, pr = 0;
    const char *ap = tq_node_attr_string(n->src, "auto_pad", "NOTSET");
    int64_t ekh = (c->kh - 1) * c->dh + 1, ekw = (c->kw - 1) * c->dw + 1;
    if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
        int64_t oh = (c->h + c->sh - 1) / c->sh, ow = (c->w + c->sw - 1) / c->sw;
        int64_t th = (oh - 1) * c->sh + ekh - c->h, tw = (ow - 1) * c->sw + ekw - c->w;
        th = th < 0 ? 0 : th, tw = tw < 0 ? 0 : tw;
        bool upper = ap[5] == 'U';
        pt = upper ? th / 2 : th - th / 2, pb = th - pt;
        pl = upper ? tw / 2 : tw - tw / 2, pr = tw - pl;
    } else if (strcmp(ap, "VALID") != 0) {
        if (pd && pd->n == 4)
            pt = pd->ints[0], pl = pd->ints[1], pb = pd->ints[2], pr = pd->ints[3];
    }
    if (c->sh < 1 || c->sw < 1 || c->dh < 1 || c->dw < 1 || pt < 0 || pl < 0 || pb < 0 || pr < 0)
        return NODE_FAIL(g, n, "bad strides, dilations or pads");
    c->pad_t = pt, c->pad_l = pl;
    c->oh = (c->h + pt + pb - ekh) / c->sh + 1;
    c->ow = (c->w + pl + pr - ekw) / c->sw + 1;
    if (c->oh < 1 || c->ow < 1)
        return NODE_FAIL(g, n, "the kernel is larger than the padded input");
    return 0;
}

/* Gemm/MatMul as M x K x N, with the shape of C for Gemm. */
typedef struct mm_shape {
    int ta, tb;
    int64_t M, N, K, cm, cn;
    float alpha, beta;
} mm_shape;

static int mm_geometry(tq_ag_graph *g, ag_node *n, mm_shape *s, int64_t *ydims, int *yrank,
                       tq_error *err)
{
    const ag_value *a = &g->v[n->in[0]], *b = &g->v[n->in[1]];
    memset(s, 0, sizeof(*s));
    s->alpha = 1.0f;
    if (n->op == OP_GEMM) {
        s->ta = (int)tq_node_attr_int(n->src, "transA", 0);
        s->tb = (int)tq_node_attr_int(n->src, "transB", 0);
        s->alpha = tq_node_attr_float(n->src, "alpha", 1.0f);
        s->beta = tq_node_attr_float(n->src, "beta", 1.0f);
        if (a->rank != 2 || b->rank != 2)
            return NODE_FAIL(g, n, "Gemm inputs must be 2-D");
        s->M = s->ta ? a->dims[1] : a->dims[0];
        s->K = s->ta ? a->dims[0] : a->dims[1];
        s->N = s->tb ? b->dims[0] : b->dims[1];
        if ((s->tb ? b->dims[1] : b->dims[0]) != s->K)
            return NODE_FAIL(g, n, "A and B do not match");
        s->cm = s->cn = 1;
        if (n->n_in > 2 && n->in[2] >= 0) {
            const ag_value *c = &g->v[n->in[2]];
            if (c->rank > 2)
                return NODE_FAIL(g, n, "C has rank > 2");
            s->cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
            s->cm = c->rank == 2 ? c->dims[0] : 1;
            if ((s->cn != 1 && s->cn != s->N) || (s->cm != 1 && s->cm != s->M))
                return NODE_FAIL(g, n, "C does not broadcast to [M, N]");
        }
        ydims[0] = s->M, ydims[1] = s->N;
        *yrank = 2;
        return 0;
    }
    if (b->rank != 2 || a->rank < 1)
        return NODE_FAIL(g, n, "only MatMul with a 2-D second input is supported for training");
    s->K = a->dims[a->rank - 1];
    if (b->dims[0] != s->K)
        return NODE_FAIL(g, n, "inner dimensions do not match");
    s->N = b->dims[1];
    s->M = 1;
    for (int d = 0; d < a->rank - 1; d++) {
        s->M *= a->dims[d];
        ydims[d] = a->dims[d];
    }
    ydims[a->rank - 1] = s->N;
    *yrank = a->rank;
    return 0;
}

static int norm_axis(int64_t axis, int rank)
{
    return (int)(axis < 0 ? axis + rank : axis);
}

/* Output shape of the shape-only ops (Flatten/Reshape/Squeeze/Unsqueeze/Identity). */
static int view_shape(tq_ag_graph *g, ag_node *n, int64_t *dims, int *rank, tq_error *err)
{
    const ag_value *x = &g->v[n->in[0]];
    int64_t total = numel(x);
    const ag_value *iv = n->n_in > 1 && n->in[1] >= 0 ? &g->v[n->in[1]] : NULL;
    const int64_t *axes = NULL;
    int64_t n_axes = 0;
    const tq_attr *aa = tq_node_attr(n->src, "axes");
    if (iv && iv->ints)
        axes = iv->ints, n_axes = iv->n_ints;
    else if (aa && aa->type == TQ_ATTR_INTS)
        axes = aa->ints, n_axes = aa->n;
    switch (n->op) {
    case OP_IDENTITY:
        *rank = x->rank;
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        return 0;
    case OP_FLATTEN: {
        int ax = norm_axis(tq_node_attr_int(n->src, "axis", 1), x->rank);
        if (ax < 0 || ax > x->rank)
            return NODE_FAIL(g, n, "axis out of range");
        int64_t a = 1;
        for (int d = 0; d < ax; d++)
            a *= x->dims[d];
        dims[0] = a, dims[1] = a ? total / a : 0;
        *rank = 2;
        return 0;
    }
    case OP_RESHAPE: {
        if (!iv || !iv->ints || iv->n_ints > TQ_MAX_RANK)
            return NODE_FAIL(g, n, "the shape must be a constant int64 tensor");
        int infer = -1;
        int64_t known = 1;
        for (int d = 0; d < iv->n_ints; d++) {
            int64_t s = iv->ints[d];
            if (s == 0 && d < x->rank)
                s = x->dims[d];
            if (s == -1) {
                if (infer >= 0)
                    return NODE_FAIL(g, n, "two -1 entries in the shape");
                infer = d;
                s = 1;
            } else if (s < 0) {
                return NODE_FAIL(g, n, "negative shape entry");
            } else {
                known *= s;
            }
            dims[d] = s;
        }
        if (infer >= 0)
            dims[infer] = known ? total / known : 0;
        *rank = (int)iv->n_ints;
        int64_t check = 1;
        for (int d = 0; d < *rank; d++)
            check *= dims[d];
        if (check != total)
            return NODE_FAIL(g, n, "the shape does not keep the element count");
        return 0;
    }
    case OP_SQUEEZE: {
        int r = 0;
        for (int d = 0; d < x->rank; d++) {
            bool drop = false;
            if (axes) {
                for (int64_t k = 0; k < n_axes; k++)
                    drop |= norm_axis(axes[k], x->rank) == d;
                if (drop && x->dims[d] != 1)
                    return NODE_FAIL(g, n, "squeezed axis is not 1");
            } else {
                drop = x->dims[d] == 1;
            }
            if (!drop)
                dims[r++] = x->dims[d];
        }
        *rank = r;
        return 0;
    }
    case OP_UNSQUEEZE: {
        if (!axes)
            return NODE_FAIL(g, n, "axes missing");
        int r = x->rank + (int)n_axes, src = 0;
        if (r > TQ_MAX_RANK)
            return NODE_FAIL(g, n, "rank too large");
        for (int d = 0; d < r; d++) {
            bool ins = false;
            for (int64_t k = 0; k < n_axes; k++)
                ins |= norm_axis(axes[k], r) == d;
            dims[d] = ins ? 1 : x->dims[src++];
        }
        *rank = r;
        return 0;
    }
    default:
        return NODE_FAIL(g, n, "not a view op");
    }
}

static void weight_qparams(ag_node *n, const ag_value *w)
{
    int64_t ch = n->axis >= 0 ? w->dims[n->axis] : 1;
    int64_t outer = 1, inner = 1;
    if (n->axis >= 0) {
        for (int d = 0; d < n->axis; d++)
            outer *= w->dims[d];
        for (int d = n->axis + 1; d < w->rank; d++)
            inner *= w->dims[d];
    } else {
        inner = numel(w);
    }
    for (int64_t c = 0; c < ch; c++) {
        float amax = 0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                float a = fabsf(w->data[(o * ch + c) * inner + i]);
                amax = a > amax ? a : amax;
            }
        /* ORT: scale = 2 absmax / (qmax - qmin) in double (254, or 128 with
         * reduce_range), stored as float; tiny -> 1 */
        double s = 2.0 * (double)amax / (double)(n->qmax - n->qmin);
        n->scale[c] = s < FLT_MIN ? 1.0f : (float)s;
        n->zp[c] = 0.0f;
    }
}

/* Asymmetric parameters of [rmin, rmax] as the static export computes them
 * (tq_compute_qparams): the range widened to hold 0, scale in double stored
 * as float, FLT_MIN guard, zero point rounded half-to-even. */
static void range_qparams(float rmin, float rmax, float qmin, float qmax, float *scale, float *zp)
{
    double lo = rmin < 0 ? rmin : 0.0, hi = rmax > 0 ? rmax : 0.0;
    double s = (hi - lo) / (double)(qmax - qmin);
    if (s < FLT_MIN) {
        *scale = 1.0f;
        *zp = 0.0f;
        return;
    }
    *scale = (float)s;
    *zp = (float)rint((double)qmin - lo / (double)(float)s);
}

static void act_qparams(ag_node *n)
{
    if (n->n_crange > 0) {
        for (int64_t c = 0; c < n->n_crange; c++)
            range_qparams(n->cmin[c], n->cmax[c], n->qmin, n->qmax, &n->scale[c], &n->zp[c]);
        return;
    }
    range_qparams(n->rmin, n->rmax, n->qmin, n->qmax, &n->scale[0], &n->zp[0]);
}

/* Split x into [outer, ch, inner] along axis (ch = 1 per tensor). */
static void fq_layout(const ag_node *n, const ag_value *x, int64_t *outer, int64_t *ch,
                      int64_t *inner)
{
    *outer = 1, *ch = 1, *inner = numel(x);
    /* weights per output channel; activations per channel when the export's
     * ranges are per channel (axis set with them) */
    if (n->axis >= 0 && n->axis < x->rank && (n->op == OP_FQ_W || n->n_crange > 0)) {
        *ch = x->dims[n->axis];
        *inner = 1;
        for (int d = 0; d < n->axis; d++)
            *outer *= x->dims[d];
        for (int d = n->axis + 1; d < x->rank; d++)
            *inner *= x->dims[d];
    }
}

/* Clip's bounds: inputs 1 and 2 (opset >= 11, each optional, a float
 * scalar) or the min/max attributes of older opsets; absent = unbounded. The
 * bounds are not trained (no gradient flows to them). */
static int clip_bounds(tq_ag_graph *g, const ag_node *n, float *lo, float *hi, tq_error *err)
{
    *lo = tq_node_attr_float(n->src, "min", -FLT_MAX);
    *hi = tq_node_attr_float(n->src, "max", FLT_MAX);
    for (int k = 1; k < n->n_in && k <= 2; k++) {
        if (n->in[k] < 0)
            continue;
        const ag_value *b = &g->v[n->in[k]];
        if (!b->data || numel(b) != 1)
            return err ? NODE_FAIL(g, n, "min/max must be float32 scalars") : -1;
        *(k == 1 ? lo : hi) = b->data[0];
    }
    return 0;
}

/* Shape (start/end attributes as ONNX, clamped): the input's dims as an
 * int64 value, recomputed on every pass since the batch size changes. */
static int shape_forward(tq_ag_graph *g, ag_node *n, tq_error *err)
{
    const ag_value *x = &g->v[n->in[0]];
    ag_value *y = &g->v[n->out];
    int64_t start = tq_node_attr_int(n->src, "start", 0);
    int64_t end = tq_node_attr_int(n->src, "end", x->rank);
    start = start < 0 ? start + x->rank : start;
    end = end < 0 ? end + x->rank : end;
    start = start < 0 ? 0 : start > x->rank ? x->rank : start;
    end = end < start ? start : end > x->rank ? x->rank : end;
    int64_t len = end - start;
    free(y->ints);
    y->ints = malloc((size_t)(len ? len : 1) * sizeof(int64_t));
    if (!y->ints)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    memcpy(y->ints, x->dims + start, (size_t)len * sizeof(int64_t));
    y->n_ints = len;
    set_shape(y, 1, &len);
    return 0;
}

/* Concat of 1-D int64 values (shape arithmetic: Shape -> Concat -> Reshape). */
static int concat_ints_forward(tq_ag_graph *g, ag_node *n, tq_error *err)
{
    ag_value *y = &g->v[n->out];
    int64_t total = 0;
    for (int k = 0; k < n->n_in; k++) {
        const ag_value *v = n->in[k] >= 0 ? &g->v[n->in[k]] : NULL;
        if (!v || !v->ints || v->rank != 1)
            return NODE_FAIL(g, n, "int64 inputs must all be 1-D int64 values");
        total += v->n_ints;
    }
    free(y->ints);
    y->ints = malloc((size_t)(total ? total : 1) * sizeof(int64_t));
    if (!y->ints)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    y->n_ints = 0;
    for (int k = 0; k < n->n_in; k++) {
        const ag_value *v = &g->v[n->in[k]];
        memcpy(y->ints + y->n_ints, v->ints, (size_t)v->n_ints * sizeof(int64_t));
        y->n_ints += v->n_ints;
    }
    set_shape(y, 1, &total);
    return 0;
}

/* ReduceMean is supported where it is a global average pool: the axes (input
 * 1 from opset 18, else the attribute) are exactly the dims after [N, C]. */
static int reduce_mean_shape(tq_ag_graph *g, const ag_node *n, int64_t *dims, int *rank,
                             int64_t *hw, tq_error *err)
{
    const ag_value *x = &g->v[n->in[0]];
    const ag_value *iv = n->n_in > 1 && n->in[1] >= 0 ? &g->v[n->in[1]] : NULL;
    const tq_attr *aa = tq_node_attr(n->src, "axes");
    const int64_t *axes = iv && iv->ints ? iv->ints : aa && aa->type == TQ_ATTR_INTS ? aa->ints
                                                                                     : NULL;
    int64_t n_axes = iv && iv->ints ? iv->n_ints : aa && aa->type == TQ_ATTR_INTS ? aa->n : 0;
    bool covered[TQ_MAX_RANK] = {false};
    bool ok = x->rank >= 3 && axes && n_axes == x->rank - 2;
    for (int64_t k = 0; ok && k < n_axes; k++) {
        int a = norm_axis(axes[k], x->rank);
        ok = a >= 2 && a < x->rank && !covered[a];
        if (ok)
            covered[a] = true;
    }
    if (!ok)
        return err ? NODE_FAIL(g, n, "only a mean over all axes after [N, C] is supported")
                   : -1;
    bool keep = tq_node_attr_int(n->src, "keepdims", 1) != 0;
    *hw = 1;
    for (int d = 2; d < x->rank; d++)
        *hw *= x->dims[d];
    dims[0] = x->dims[0], dims[1] = x->dims[1];
    for (int d = 2; d < x->rank && keep; d++)
        dims[d] = 1;
    *rank = keep ? x->rank : 2;
    return 0;
}

static int forward_node(tq_ag_graph *g, ag_node *n, tq_error *err)
{
    for (int k = 0; k < n->n_in; k++) {
        if (n->in[k] < 0)
            continue;
        const ag_value *iv = &g->v[n->in[k]];
        bool shape_input = ((n->op == OP_RESHAPE || n->op == OP_SQUEEZE ||
                             n->op == OP_UNSQUEEZE || n->op == OP_REDUCE_MEAN) && k == 1) ||
                           n->op == OP_SHAPE || (n->op == OP_CONCAT && iv->ints);
        if (!shape_input && !iv->data)
            return NODE_FAIL(g, n, "an input is not float32 (training supports float32 only)");
    }
    ag_value *y = &g->v[n->out];
    const ag_value *x = &g->v[n->in[0]];
    int64_t dims[TQ_MAX_RANK];
    int rank = 0;
    switch (n->op) {
    case OP_CONV: {
        int rc = conv_geometry(g, n, err);
        if (rc)
            return rc;
        int64_t d[4] = {n->conv.n, n->conv.m, n->conv.oh, n->conv.ow};
        set_shape(y, 4, d);
        if (n->n_in > 2 && n->in[2] >= 0 && numel(&g->v[n->in[2]]) != n->conv.m)
            return NODE_FAIL(g, n, "bias size is not the output channel count");
        if (ensure(&y->data, &y->cap, numel(y)) ||
            ensure(&n->col, &n->col_cap, tq_agk_conv_col_size(&n->conv)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        tq_agk_conv_fwd_f(&n->conv, x->data, g->v[n->in[1]].data,
                          n->n_in > 2 && n->in[2] >= 0 ? g->v[n->in[2]].data : NULL, y->data,
                          n->col);
        return 0;
    }
    case OP_GEMM:
    case OP_MATMUL: {
        mm_shape s;
        int rc = mm_geometry(g, n, &s, dims, &rank, err);
        if (rc)
            return rc;
        set_shape(y, rank, dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        const float *c = n->op == OP_GEMM && n->n_in > 2 && n->in[2] >= 0 ? g->v[n->in[2]].data
                                                                           : NULL;
        tq_agk_gemm_op_fwd_f(s.ta, s.tb, s.M, s.N, s.K, s.alpha, s.beta, x->data,
                             g->v[n->in[1]].data, c, s.cm, s.cn, y->data);
        return 0;
    }
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: {
        const ag_value *b = &g->v[n->in[1]];
        tq_agk_bcast p;
        if (n->n_in != 2 || tq_agk_bcast_plan(&p, x->dims, x->rank, b->dims, b->rank))
            return NODE_FAIL(g, n, "inputs do not broadcast");
        set_shape(y, p.rank, p.dims);
        if (ensure(&y->data, &y->cap, p.numel))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        tq_agk_binary_fwd_f((tq_agk_binop)(n->op - OP_ADD), &p, x->data, b->data, y->data);
        return 0;
    }
    case OP_RELU:
        set_shape(y, x->rank, x->dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        tq_agk_relu_fwd_f(numel(x), x->data, y->data);
        return 0;
    case OP_CLIP: {
        float lo, hi;
        int rc = clip_bounds(g, n, &lo, &hi, err);
        if (rc)
            return rc;
        set_shape(y, x->rank, x->dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        tq_agk_clip_fwd_f(numel(x), x->data, lo, hi, y->data);
        return 0;
    }
    case OP_GAP: {
        if (x->rank < 3)
            return NODE_FAIL(g, n, "input rank < 3");
        int64_t hw = 1;
        for (int d = 2; d < x->rank; d++) {
            hw *= x->dims[d];
            dims[d] = 1;
        }
        dims[0] = x->dims[0], dims[1] = x->dims[1];
        set_shape(y, x->rank, dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        tq_agk_gap_fwd_f(x->dims[0] * x->dims[1], hw, x->data, y->data);
        return 0;
    }
    case OP_FLATTEN:
    case OP_RESHAPE:
    case OP_SQUEEZE:
    case OP_UNSQUEEZE:
    case OP_IDENTITY: {
        int rc = view_shape(g, n, dims, &rank, err);
        if (rc)
            return rc;
        set_shape(y, rank, dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        memcpy(y->data, x->data, (size_t)numel(x) * sizeof(float));
        return 0;
    }
    case OP_SHAPE:
        return shape_forward(g, n, err);
    case OP_REDUCE_MEAN: {
        int64_t hw = 1;
        int rc = reduce_mean_shape(g, n, dims, &rank, &hw, err);
        if (rc)
            return rc;
        set_shape(y, rank, dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        tq_agk_gap_fwd_f(x->dims[0] * x->dims[1], hw, x->data, y->data);
        return 0;
    }
    case OP_CONCAT: {
        if (x->ints && !x->data)
            return concat_ints_forward(g, n, err);
        int ax = norm_axis(tq_node_attr_int(n->src, "axis", 0), x->rank);
        if (ax < 0 || ax >= x->rank)
            return NODE_FAIL(g, n, "axis out of range");
        int64_t inner[AG_MAX_IN], outer = 1, total_axis = 0;
        const float *xs[AG_MAX_IN];
        for (int d = 0; d < ax; d++)
            outer *= x->dims[d];
        for (int k = 0; k < n->n_in; k++) {
            const ag_value *v = &g->v[n->in[k]];
            if (v->rank != x->rank)
                return NODE_FAIL(g, n, "inputs differ in rank");
            for (int d = 0; d < x->rank; d++)
                if (d != ax && v->dims[d] != x->dims[d])
                    return NODE_FAIL(g, n, "inputs differ off the concat axis");
            inner[k] = 1;
            for (int d = ax; d < v->rank; d++)
                inner[k] *= v->dims[d];
            total_axis += v->dims[ax];
            xs[k] = v->data;
        }
        memcpy(dims, x->dims, sizeof(dims));
        dims[ax] = total_axis;
        set_shape(y, x->rank, dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        tq_agk_concat_fwd_f(n->n_in, outer, inner, xs, y->data);
        return 0;
    }
    case OP_BN: {
        if (x->rank < 2 || x->dims[1] != n->bn_c)
            return NODE_FAIL(g, n, "channel count does not match the parameters");
        set_shape(y, x->rank, x->dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        int64_t inner = numel(x) / (x->dims[0] * n->bn_c);
        for (int64_t b = 0; b < x->dims[0]; b++)
            for (int64_t c = 0; c < n->bn_c; c++) {
                size_t base = (size_t)((b * n->bn_c + c) * inner);
                for (int64_t i = 0; i < inner; i++)
                    y->data[base + i] = n->bn_a[c] * x->data[base + i] + n->bn_b[c];
            }
        return 0;
    }
    case OP_FQ_ACT:
    case OP_FQ_W: {
        set_shape(y, x->rank, x->dims);
        if (ensure(&y->data, &y->cap, numel(y)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        int64_t outer, ch, inner;
        fq_layout(n, x, &outer, &ch, &inner);
        if (n->op == OP_FQ_ACT && n->n_crange > 0 && ch != n->n_crange)
            return NODE_FAIL(g, n, "per-channel activation ranges do not fit the tensor's shape");
        if (ch > n->n_scale) {
            float *s = realloc(n->scale, (size_t)ch * sizeof(float));
            if (s)
                n->scale = s;
            float *z = s ? realloc(n->zp, (size_t)ch * sizeof(float)) : NULL;
            if (!s || !z)
                return tq_fail(err, TQ_ENOMEM, "out of memory");
            n->zp = z;
            n->n_scale = ch;
        }
        if (n->op == OP_FQ_ACT && g->range_mode == TQ_AG_RANGE_OBSERVE) {
            for (int64_t i = 0; i < numel(x); i++) {
                float v = x->data[i];
                if (v != v)
                    continue;
                if (!n->have_range)
                    n->rmin = n->rmax = v, n->have_range = true;
                n->rmin = v < n->rmin ? v : n->rmin;
                n->rmax = v > n->rmax ? v : n->rmax;
            }
        }
        if (!g->fake_quant || (n->op == OP_FQ_ACT && !n->have_range)) {
            memcpy(y->data, x->data, (size_t)numel(x) * sizeof(float));
            return 0;
        }
        if (n->op == OP_FQ_W)
            weight_qparams(n, x);
        else
            act_qparams(n);
        tq_agk_fakeq_fwd_f(outer, ch, inner, x->data, n->scale, n->zp, n->qmin, n->qmax, y->data);
        return 0;
    }
    }
    return NODE_FAIL(g, n, "unknown op");
}

int tq_ag_forward(tq_ag_graph *g, const float *const *inputs, int64_t batch, tq_error *err)
{
    for (int i = 0; i < g->n_inputs; i++) {
        ag_value *x = &g->v[g->inputs[i]];
        x->dims[0] = batch;
        if (ensure(&x->data, &x->cap, batch * x->sample_numel))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        memcpy(x->data, inputs[i], (size_t)(batch * x->sample_numel) * sizeof(float));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        int rc = forward_node(g, &g->nodes[i], err);
        if (rc)
            return rc;
    }
    return TQ_OK;
}

/* -------------------------------------------------------------- backward */

/* The gradient buffer of a value when one is needed, else NULL. */
static float *grad_of(tq_ag_graph *g, int vi)
{
    return vi >= 0 && g->v[vi].needs_grad ? g->v[vi].grad : NULL;
}

static void backward_node(tq_ag_graph *g, ag_node *n)
{
    ag_value *y = &g->v[n->out];
    const ag_value *x = &g->v[n->in[0]];
    const float *dy = y->grad;
    float *dx = grad_of(g, n->in[0]);
    switch (n->op) {
    case OP_CONV:
        tq_agk_conv_bwd_f(&n->conv, x->data, g->v[n->in[1]].data, dy, dx, grad_of(g, n->in[1]),
                          n->n_in > 2 ? grad_of(g, n->in[2]) : NULL, n->col);
        return;
    case OP_GEMM:
    case OP_MATMUL: {
        mm_shape s;
        int64_t dims[TQ_MAX_RANK];
        int rank;
        mm_geometry(g, n, &s, dims, &rank, NULL); /* succeeded in forward */
        tq_agk_gemm_op_bwd_f(s.ta, s.tb, s.M, s.N, s.K, s.alpha, s.beta, x->data,
                             g->v[n->in[1]].data, s.cm, s.cn, dy, dx, grad_of(g, n->in[1]),
                             n->op == OP_GEMM && n->n_in > 2 ? grad_of(g, n->in[2]) : NULL);
        return;
    }
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: {
        const ag_value *b = &g->v[n->in[1]];
        tq_agk_bcast p;
        tq_agk_bcast_plan(&p, x->dims, x->rank, b->dims, b->rank);
        tq_agk_binary_bwd_f((tq_agk_binop)(n->op - OP_ADD), &p, x->data, b->data, dy, dx,
                            grad_of(g, n->in[1]));
        return;
    }
    case OP_RELU:
        if (dx)
            tq_agk_relu_bwd_f(numel(x), x->data, dy, dx);
        return;
    case OP_CLIP: {
        float lo, hi;
        if (dx && clip_bounds(g, n, &lo, &hi, NULL) == 0) /* succeeded in forward */
            tq_agk_clip_bwd_f(numel(x), x->data, lo, hi, dy, dx);
        return;
    }
    case OP_SHAPE:
        return;
    case OP_REDUCE_MEAN:
    case OP_GAP:
        if (dx)
            tq_agk_gap_bwd_f(x->dims[0] * x->dims[1], numel(x) / (x->dims[0] * x->dims[1]), dy, dx);
        return;
    case OP_FLATTEN:
    case OP_RESHAPE:
    case OP_SQUEEZE:
    case OP_UNSQUEEZE:
    case OP_IDENTITY:
        if (dx)
            for (int64_t i = 0; i < numel(x); i++)
                dx[i] += dy[i];
        return;
    case OP_CONCAT: {
        int ax = norm_axis(tq_node_attr_int(n->src, "axis", 0), x->rank);
        int64_t inner[AG_MAX_IN], outer = 1;
        float *dxs[AG_MAX_IN];
        for (int d = 0; d < ax; d++)
            outer *= x->dims[d];
        for (int k = 0; k < n->n_in; k++) {
            const ag_value *v = &g->v[n->in[k]];
            inner[k] = 1;
            for (int d = ax; d < v->rank; d++)
                inner[k] *= v->dims[d];
            dxs[k] = grad_of(g, n->in[k]);
        }
        tq_agk_concat_bwd_f(n->n_in, outer, inner, dy, dxs);
        return;
    }
    case OP_BN: {
        if (!dx)
            return;
        int64_t inner = numel(x) / (x->dims[0] * n->bn_c);
        for (int64_t b = 0; b < x->dims[0]; b++)
            for (int64_t c = 0; c < n->bn_c; c++) {
                size_t base = (size_t)((b * n->bn_c + c) * inner);
                for (int64_t i = 0; i < inner; i++)
                    dx[base + i] += n->bn_a[c] * dy[base + i];
            }
        return;
    }
    case OP_FQ_ACT:
    case OP_FQ_W:
        if (!dx)
            return;
        if (!g->fake_quant || (n->op == OP_FQ_ACT && !n->have_range)) {
            for (int64_t i = 0; i < numel(x); i++)
                dx[i] += dy[i];
            return;
        }
        int64_t outer, ch, inner;
        fq_layout(n, x, &outer, &ch, &inner);
        tq_agk_fakeq_bwd_f(outer, ch, inner, x->data, n->scale, n->zp, n->qmin, n->qmax, dy, dx);
        return;
    }
}

int tq_ag_backward(tq_ag_graph *g, const float *dy, tq_error *err)
{
    for (int i = 0; i < g->n_v; i++) {
        ag_value *v = &g->v[i];
        if (!v->needs_grad)
            continue;
        int64_t n = numel(v);
        if (ensure(&v->grad, &v->gcap, n))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        memset(v->grad, 0, (size_t)n * sizeof(float));
    }
    ag_value *out = &g->v[g->output];
    if (!out->needs_grad)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: the output does not depend on any weight",
                       g->model_name);
    memcpy(out->grad, dy, (size_t)numel(out) * sizeof(float));
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (g->v[g->nodes[i].out].needs_grad)
            backward_node(g, &g->nodes[i]);
    return TQ_OK;
}
