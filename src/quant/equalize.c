/* Channel equalisation (--equalize): rescale channels before calibration so
 * a per-tensor activation scale wastes fewer levels, without changing the
 * fp32 function. Static quantisation gives each activation tensor one scale;
 * when its channels span very different ranges (an in-graph standardisation
 * maps uniform features to spans from 0.14 to 29; hidden ReLU channels differ
 * by 10x), the narrow channels get a handful of levels. The remedy moves
 * range between the activation and the consumer's weights, which are
 * quantised per output channel and so have levels to spare:
 *
 *   x'_j = x_j / s_j  and  W'[:, j] = W[:, j] * s_j   (W' x' = W x exactly)
 *
 * Sites (the consumer is a quantised Conv/Gemm/MatMul with its own float
 * weights; every tensor in between has one reader, so nothing else sees the
 * rescaled values):
 *  - input sites: x = Div(u, D) or Mul(u, D) with D a per-channel constant
 *    (the standardisation); s folds into D. When a Sub(v, M) makes u and the
 *    consumer has a bias and no zero padding (padding would turn into a
 *    non-zero value), each channel is also centred: x' = x - c_j folds into
 *    M and the consumer's bias takes W c, so signed features of different
 *    offsets share one zero point.
 *  - pairs (cross-layer equalisation, Nagel et al. 2019): x = producer
 *    Conv/Gemm/MatMul output, optionally through Relu (positively
 *    homogeneous: relu(y / s) = relu(y) / s for s > 0); s folds into the
 *    producer's output channel (weights and bias). Clip with fixed bounds is
 *    not homogeneous and residual Adds would need both branches alike: such
 *    chains are not sites.
 *
 * s_j = r_j^a / w_j^(1 - a) (SmoothQuant), r_j = max |x_j| over the
 * calibration set (after centring), w_j = max |W[:, j]|; a = 1 makes every
 * channel's range equal, a = 0 every weight column's. The scales are
 * normalised to geometric mean 1. Input sites use a larger a than hidden
 * ones by default: uniform-feature ranges are exact on any calibration set,
 * while a hidden channel's maximum over a few hundred samples is an estimate,
 * and equalising fully puts every channel right at its estimated maximum,
 * where unseen samples clip. Ranges come from one unfused fp32 pass over the
 * calibration set; a site's rescaling leaves every other site's tensor
 * unchanged, so one pass serves all of them. */
#include "quant/equalize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_query.h"
#include "quant/quant_internal.h"
#include "util/error.h"

/* Keep a nearly dead channel (tiny range) from pushing its weights towards
 * float overflow or underflow. */
#define SCALE_LIMIT 1e4

/* A float weight of a Conv/Gemm/MatMul as (output channel, input channel). */
typedef struct wmap {
    float *w;
    float *bias;          /* NULL when none */
    int64_t n_out, n_in;  /* n_in: all input channels (Conv: groups x per group) */
    int layout;           /* CONV [out, in/g, k...], OUT_IN [out, in], IN_OUT [in, out] */
    int64_t in_per_group, out_per_group, inner;
} wmap;

enum { LAYOUT_CONV, LAYOUT_OUT_IN, LAYOUT_IN_OUT };

typedef struct site {
    bool is_input;         /* Div/Mul standardisation; else a layer pair */
    int consumer, producer, sub; /* node indices; sub = -1 when none */
    const char *tensor;    /* the consumer's activation input */
    int64_t channels;
    int spatial;           /* channel axis counted from the end */
    double *mn, *mx;
    bool bad, done;
} site;

typedef struct eq_state {
    site *s;
    int n;
} eq_state;

static int count_uses(const tq_graph *g, const char *name)
{
    int uses = tq_graph_is_output(g, name) ? 1 : 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            uses += strcmp(g->nodes[i].inputs[k], name) == 0;
    return uses;
}

/* A float32 initializer read by this one node only (so rewriting it in place
 * changes nothing else), or NULL. */
static tq_tensor *own_float_init(tq_graph *g, const tq_node *n, int input)
{
    if (input >= n->n_inputs || !n->inputs[input][0])
        return NULL;
    int k = tq_graph_initializer_index(g, n->inputs[input]);
    if (k < 0 || g->initializers[k].dtype != TQ_FLOAT || tq_graph_is_input(g, n->inputs[input]) ||
        count_uses(g, n->inputs[input]) != 1)
        return NULL;
    return &g->initializers[k];
}

static bool weight_map(tq_graph *g, int node, wmap *m)
{
    const tq_node *n = &g->nodes[node];
    memset(m, 0, sizeof(*m));
    tq_tensor *w = own_float_init(g, n, 1);
    if (!w || n->n_outputs < 1)
        return false;
    m->w = w->data;
    m->inner = 1;
    if (tq_node_is_onnx(n, "Conv")) {
        int64_t group = tq_node_attr_int(n, "group", 1);
        if (w->rank < 3 || group < 1 || w->dims[0] % group)
            return false;
        m->layout = LAYOUT_CONV;
        m->n_out = w->dims[0];
        m->in_per_group = w->dims[1];
        m->out_per_group = w->dims[0] / group;
        m->n_in = w->dims[1] * group;
        for (int d = 2; d < w->rank; d++)
            m->inner *= w->dims[d];
    } else if (tq_node_is_onnx(n, "Gemm") || tq_node_is_onnx(n, "MatMul")) {
        bool gemm = tq_node_is_onnx(n, "Gemm");
        if (w->rank != 2 || (gemm && tq_node_attr_int(n, "transA", 0) != 0))
            return false;
        bool out_in = gemm && tq_node_attr_int(n, "transB", 0) != 0;
        m->layout = out_in ? LAYOUT_OUT_IN : LAYOUT_IN_OUT;
        m->n_out = out_in ? w->dims[0] : w->dims[1];
        m->n_in = out_in ? w->dims[1] : w->dims[0];
    } else {
        return false;
    }
    if (tq_node_is_onnx(n, "MatMul") || n->n_inputs < 3 || !n->inputs[2][0])
        return true;
    /* A bias must be one value per output channel to be rescaled per channel. */
    tq_tensor *b = own_float_init(g, n, 2);
    if (!b || tq_tensor_numel(b) != m->n_out)
        return false;
    m->bias = b->data;
    return true;
}

/* Address of W(o, j, k) or NULL when input channel j does not reach output o
 * (another group). */
static float *weight_at(const wmap *m, int64_t o, int64_t j, int64_t k)
{
    switch (m->layout) {
    case LAYOUT_CONV:
        if (j / m->in_per_group != o / m->out_per_group)
            return NULL;
        return &m->w[(o * m->in_per_group + j % m->in_per_group) * m->inner + k];
    case LAYOUT_OUT_IN:
        return &m->w[o * m->n_in + j];
    default:
        return &m->w[j * m->n_out + o];
    }
}

/* The outputs an input channel reaches: its group's (Conv) or all. */
static void outputs_of(const wmap *m, int64_t j, int64_t *lo, int64_t *hi)
{
    *lo = 0;
    *hi = m->n_out;
    if (m->layout == LAYOUT_CONV) {
        *lo = j / m->in_per_group * m->out_per_group;
        *hi = *lo + m->out_per_group;
    }
}

static double column_absmax(const wmap *m, int64_t j)
{
    int64_t lo, hi;
    outputs_of(m, j, &lo, &hi);
    double mx = 0;
    for (int64_t o = lo; o < hi; o++)
        for (int64_t k = 0; k < m->inner; k++)
            mx = fmax(mx, fabs(*weight_at(m, o, j, k)));
    return mx;
}

static void scale_column(wmap *m, int64_t j, double f)
{
    int64_t lo, hi;
    outputs_of(m, j, &lo, &hi);
    for (int64_t o = lo; o < hi; o++)
        for (int64_t k = 0; k < m->inner; k++) {
            float *w = weight_at(m, o, j, k);
            *w = (float)(*w * f);
        }
}

static void scale_output(wmap *m, int64_t o, double f)
{
    int64_t per = m->layout == LAYOUT_CONV ? m->in_per_group : m->n_in;
    for (int64_t j = 0; j < per; j++) {
        int64_t jj = m->layout == LAYOUT_CONV ? o / m->out_per_group * m->in_per_group + j : j;
        for (int64_t k = 0; k < m->inner; k++) {
            float *w = weight_at(m, o, jj, k);
            *w = (float)(*w * f);
        }
    }
    if (m->bias)
        m->bias[o] = (float)(m->bias[o] * f);
}

/* A constant holding one value per channel of a tensor whose channel axis is
 * `spatial` axes from the end, broadcast over every other axis. */
static bool per_channel_const(const tq_tensor *t, int64_t channels, int spatial)
{
    if (!t || tq_tensor_numel(t) != channels || t->rank < spatial + 1 || t->rank > spatial + 2)
        return false;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d] != (d == t->rank - 1 - spatial ? channels : 1))
            return false;
    return true;
}

static bool zero_padding(const tq_node *n)
{
    const tq_attr *pads = tq_node_attr(n, "pads");
    const char *autopad = tq_node_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(autopad, "NOTSET") != 0 && strcmp(autopad, "VALID") != 0)
        return false;
    for (int i = 0; pads && pads->ints && i < pads->n; i++)
        if (pads->ints[i] != 0)
            return false;
    return true;
}

/* Can the consumer's bias absorb a per-channel shift of its input? */
static bool can_center(const tq_node *c, const wmap *m)
{
    if (!m->bias)
        return false;
    if (tq_node_is_onnx(c, "Gemm"))
        return tq_node_attr_float(c, "beta", 1.0f) != 0.0f;
    return tq_node_is_onnx(c, "Conv") && zero_padding(c);
}

/* Find the site feeding quantised node ci, if any. */
static bool find_site(tq_graph *g, const tq_quant_settings *s, int ci, site *out)
{
    const tq_node *c = &g->nodes[ci];
    wmap cm;
    if (!tq_quant_selected(s, c) || c->n_inputs < 2 || !weight_map(g, ci, &cm))
        return false;
    const char *x = c->inputs[0];
    if (tq_graph_sole_consumer(g, x) != ci || tq_graph_find_initializer(g, x))
        return false;
    int p = tq_graph_producer(g, x);
    if (p < 0)
        return false;
    memset(out, 0, sizeof(*out));
    out->consumer = ci;
    out->sub = -1;
    out->tensor = x;
    out->channels = cm.n_in;
    out->spatial = tq_node_is_onnx(c, "Conv") ? (int)(tq_graph_find_initializer(g, c->inputs[1])->rank - 2) : 0;
    const tq_node *pn = &g->nodes[p];
    if ((tq_node_is_onnx(pn, "Div") || tq_node_is_onnx(pn, "Mul")) && pn->n_inputs == 2) {
        if (!per_channel_const(own_float_init(g, pn, 1), cm.n_in, out->spatial) ||
            tq_graph_find_initializer(g, pn->inputs[0]))
            return false;
        out->is_input = true;
        out->producer = p;
        int q = tq_graph_producer(g, pn->inputs[0]);
        if (q >= 0 && tq_node_is_onnx(&g->nodes[q], "Sub") && g->nodes[q].n_inputs == 2 &&
            tq_graph_sole_consumer(g, pn->inputs[0]) == p &&
            per_channel_const(own_float_init(g, &g->nodes[q], 1), cm.n_in, out->spatial) &&
            can_center(c, &cm))
            out->sub = q;
        return true;
    }
    if (tq_node_is_onnx(pn, "Relu")) {
        const char *y = pn->inputs[0];
        if (tq_graph_sole_consumer(g, y) != p || (p = tq_graph_producer(g, y)) < 0)
            return false;
    }
    /* Conv channels sit on axis 1, Gemm/MatMul channels on the last axis:
     * a chain mixing the two (Conv -> MatMul over the width) would pair
     * different axes. */
    wmap pm;
    if (p == ci || !weight_map(g, p, &pm) || pm.n_out != cm.n_in ||
        (pm.layout == LAYOUT_CONV) != (cm.layout == LAYOUT_CONV) ||
        (pm.layout == LAYOUT_CONV &&
         tq_graph_find_initializer(g, g->nodes[p].inputs[1])->rank != out->spatial + 2) ||
        tq_graph_sole_consumer(g, g->nodes[p].outputs[0]) < 0)
        return false;
    out->producer = p;
    return true;
}

static void observe(const tq_value *v, void *user)
{
    eq_state *st = user;
    if (v->dtype != TQ_FLOAT || !v->name || !v->data)
        return;
    for (int i = 0; i < st->n; i++) {
        site *s = &st->s[i];
        if (strcmp(s->tensor, v->name) != 0)
            continue;
        int axis = v->rank - 1 - s->spatial;
        if (axis < 0 || v->dims[axis] != s->channels) {
            s->bad = true;
            return;
        }
        int64_t inner = 1, n = tq_value_numel(v);
        for (int d = axis + 1; d < v->rank; d++)
            inner *= v->dims[d];
        const float *x = v->data;
        for (int64_t k = 0; k < n; k++) {
            double f = x[k];
            if (!isfinite(f))
                continue;
            int64_t c = k / inner % s->channels;
            s->mn[c] = fmin(s->mn[c], f);
            s->mx[c] = fmax(s->mx[c], f);
        }
        return;
    }
}

/* s_j from the ranges r and weight columns w; channels with no range or no
 * weight keep 1. Normalised to geometric mean 1, clamped. */
static void smooth_scales(const double *r, const double *w, int64_t n, double alpha, double *s)
{
    double log_sum = 0;
    int64_t valid = 0;
    for (int64_t j = 0; j < n; j++) {
        s[j] = 0;
        if (r[j] > 0 && w[j] > 0 && isfinite(r[j])) {
            s[j] = pow(r[j], alpha) / pow(w[j], 1.0 - alpha);
            log_sum += log(s[j]);
            valid++;
        }
    }
    double norm = valid ? exp(log_sum / (double)valid) : 1.0;
    for (int64_t j = 0; j < n; j++)
        s[j] = s[j] > 0 ? fmin(fmax(s[j] / norm, 1.0 / SCALE_LIMIT), SCALE_LIMIT) : 1.0;
}

static void apply_site(tq_graph *g, const tq_quant_settings *qs, site *s, tq_equalize_result *res,
                       double *r, double *w, double *scale)
{
    wmap cm;
    weight_map(g, s->consumer, &cm);
    const tq_node *cn = &g->nodes[s->consumer];
    int64_t n = s->channels;
    double alpha;
    if (s->is_input) {
        const tq_node *pn = &g->nodes[s->producer];
        float *d = own_float_init(g, pn, 1)->data;
        bool is_div = tq_node_is_onnx(pn, "Div");
        if (s->sub >= 0) {
            /* centre: x - c = (u - (M + c D)) / D, and W (x - c) + b' = W x + b */
            float *mean = own_float_init(g, &g->nodes[s->sub], 1)->data;
            double coef = tq_node_is_onnx(cn, "Gemm")
                              ? tq_node_attr_float(cn, "alpha", 1.0f) / tq_node_attr_float(cn, "beta", 1.0f)
                              : 1.0;
            for (int64_t j = 0; j < n; j++) {
                double c = s->mn[j] <= s->mx[j] ? 0.5 * (s->mn[j] + s->mx[j]) : 0.0;
                if (c == 0.0 || !isfinite(c))
                    continue;
                mean[j] = (float)(mean[j] + (is_div ? c * d[j] : c / d[j]));
                int64_t lo, hi;
                outputs_of(&cm, j, &lo, &hi);
                for (int64_t o = lo; o < hi; o++) {
                    double sum = 0;
                    for (int64_t k = 0; k < cm.inner; k++)
                        sum += *weight_at(&cm, o, j, k);
                    cm.bias[o] = (float)(cm.bias[o] + coef * c * sum);
                }
                s->mn[j] -= c;
                s->mx[j] -= c;
            }
            res->n_centered++;
        }
        alpha = qs->equalize_alpha_input > 0 ? qs->equalize_alpha_input : TQ_EQUALIZE_ALPHA_INPUT;
        for (int64_t j = 0; j < n; j++) {
            r[j] = s->mn[j] <= s->mx[j] ? fmax(fabs(s->mn[j]), fabs(s->mx[j])) : 0.0;
            w[j] = column_absmax(&cm, j);
        }
        smooth_scales(r, w, n, alpha, scale);
        for (int64_t j = 0; j < n; j++) {
            d[j] = (float)(is_div ? d[j] * scale[j] : d[j] / scale[j]);
            scale_column(&cm, j, scale[j]);
        }
        res->n_inputs++;
        return;
    }
    wmap pm;
    weight_map(g, s->producer, &pm);
    alpha = qs->equalize_alpha_layers > 0 ? qs->equalize_alpha_layers : TQ_EQUALIZE_ALPHA_LAYERS;
    for (int64_t j = 0; j < n; j++) {
        r[j] = s->mn[j] <= s->mx[j] ? fmax(fabs(s->mn[j]), fabs(s->mx[j])) : 0.0;
        w[j] = column_absmax(&cm, j);
    }
    smooth_scales(r, w, n, alpha, scale);
    for (int64_t j = 0; j < n; j++) {
        scale_output(&pm, j, 1.0 / scale[j]);
        scale_column(&cm, j, scale[j]);
    }
    res->n_pairs++;
}

int tq_equalize(tq_model *m, const tq_quant_settings *s, const char *calibration_npz,
                tq_equalize_result *res, tq_error *err)
{
    tq_equalize_result local = {0};
    res = res ? res : &local;
    memset(res, 0, sizeof(*res));
    const char *name = m->path ? m->path : "model";
    float ai = s->equalize_alpha_input, al = s->equalize_alpha_layers;
    if (!(ai >= 0.0f && ai <= 1.0f) || !(al >= 0.0f && al <= 1.0f))
        return tq_fail(err, TQ_EINVAL, "quantize: equalize alpha %g / %g is outside [0, 1] (0 = default)",
                       (double)ai, (double)al);
    tq_graph *g = &m->graph;
    eq_state st = {0};
    st.s = calloc((size_t)(g->n_nodes > 0 ? g->n_nodes : 1), sizeof(site));
    if (!st.s)
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory equalising", name);
    int rc = TQ_OK;
    int64_t max_ch = 1;
    for (int i = 0; !rc && i < g->n_nodes; i++) {
        site *t = &st.s[st.n];
        if (!find_site(g, s, i, t))
            continue;
        t->mn = malloc((size_t)t->channels * sizeof(double));
        t->mx = malloc((size_t)t->channels * sizeof(double));
        st.n++;
        if (!t->mn || !t->mx) {
            rc = tq_fail(err, TQ_ENOMEM, "%s: out of memory equalising", name);
            break;
        }
        for (int64_t j = 0; j < t->channels; j++) {
            t->mn[j] = INFINITY;
            t->mx[j] = -INFINITY;
        }
        max_ch = t->channels > max_ch ? t->channels : max_ch;
    }
    if (!rc && st.n > 0)
        rc = tq_calib_observe(m, calibration_npz, s, observe, &st, NULL, err);
    double *buf = rc || st.n == 0 ? NULL : malloc(3 * (size_t)max_ch * sizeof(double));
    if (!rc && st.n > 0 && !buf)
        rc = tq_fail(err, TQ_ENOMEM, "%s: out of memory equalising", name);
    /* A site's scales read its consumer's weight columns, which the site
     * whose producer that consumer is rescales by rows: do the upstream site
     * first. Chains are acyclic, so every round completes at least one. */
    for (int left = rc ? 0 : st.n; left > 0;) {
        int before = left;
        for (int i = 0; i < st.n; i++) {
            site *t = &st.s[i];
            if (t->done)
                continue;
            bool waits = false;
            for (int k = 0; k < st.n && !waits; k++)
                waits = !st.s[k].done && k != i && st.s[k].consumer == t->producer;
            if (waits)
                continue;
            if (!t->bad)
                apply_site(g, s, t, res, buf, buf + max_ch, buf + 2 * max_ch);
            t->done = true;
            left--;
        }
        if (left == before) {
            rc = tq_fail(err, TQ_EINTERNAL, "%s: equalisation sites form a cycle", name);
            break;
        }
    }
    free(buf);
    for (int i = 0; i < st.n; i++) {
        free(st.s[i].mn);
        free(st.s[i].mx);
    }
    free(st.s);
    return rc;
}
