/* Calibration: stream the calibration .npz through the fp32 model in
 * mini-batches with a session observer and reduce every watched tensor to
 * its range. Memory is bounded by the watched tensors' statistics (min/max,
 * one 2048-bin histogram each), never by the number of samples.
 *
 * Pass 1 collects NaN-aware min/max (MinMax = ORT's default). Entropy and
 * Percentile run a second pass that fills a histogram of |x| over the fixed
 * range [0, max|x|] of pass 1, so no histogram is ever re-binned.
 *
 * Percentile: threshold = right edge of the bin where the CDF of |x| reaches
 * p/100 (default 99.999); range = [max(min, -t), min(max, t)].
 * Entropy: ONNX Runtime's defaults (128 bins, 128 quantised bins) leave its
 * KL search one candidate, i.e. MinMax. tinyq uses the TensorRT-style search
 * instead: 2048 bins, for each candidate threshold i in [L, 2048] the clipped
 * reference P (outliers folded into the last kept bin) is compared with Q
 * (those i bins merged into L levels and spread back over their non-empty
 * bins); the i with the least KL(P||Q) gives t = i * bin_width. L = 128 for
 * signed tensors (one int8 half-range) and 256 for non-negative ones (an
 * asymmetric [0, t] range uses every level); the zero bin takes its
 * neighbour's count first (TensorRT), and graph outputs (also through
 * Squeeze/Reshape/...) keep their MinMax range. Range clamped as above.
 *
 * A tensor watched per channel (per_channel_activations) keeps min/max and
 * a histogram for each index of its channel axis and runs the same
 * per-tensor algorithm on each channel's own statistics; its per-tensor
 * range is then the union of the channels'. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_query.h"
#include "io/npz.h"
#include "quant/calib_mse.h"
#include "quant/quant_internal.h"
#include "runtime/session_internal.h"
#include "runtime/session_observer.h"
#include "util/error.h"

#define HIST_BINS 2048

/* Statistics of one channel (or of the whole tensor). */
typedef struct chan_stat {
    float mn, mx;
    bool seen;
    float absmax;        /* pass 2: histogram covers [0, absmax] */
    uint64_t *hist;      /* HIST_BINS counts, pass 2 only */
} chan_stat;

typedef struct watch {
    const char *name;
    int axis_req;        /* TQ_CALIB_PER_TENSOR or the requested channel axis */
    int axis;            /* normalised on the first observation */
    int64_t n_ch;        /* 1 per tensor */
    chan_stat *ch;       /* [n_ch], allocated on the first observation */
    bool bad_shape;      /* a later run disagreed on the channel count */
    bool oom;
} watch;

typedef struct calib_state {
    watch *w;
    int n;
    int pass;
} calib_state;

/* Channel layout of v for w: [outer, n_ch, inner]. Fixed on the first
 * observation (the axis normalised against the value's rank). */
static bool watch_layout(watch *w, const tq_value *v, int64_t *outer, int64_t *inner)
{
    int64_t n = tq_value_numel(v);
    if (!w->ch) {
        int ax = w->axis_req;
        if (ax != TQ_CALIB_PER_TENSOR) {
            ax = ax < 0 ? ax + v->rank : ax;
            if (ax < 0 || ax >= v->rank) {
                w->bad_shape = true;
                return false;
            }
        }
        w->axis = ax;
        w->n_ch = ax == TQ_CALIB_PER_TENSOR ? 1 : v->dims[ax];
        w->ch = calloc((size_t)(w->n_ch > 0 ? w->n_ch : 1), sizeof(chan_stat));
        if (!w->ch) {
            w->oom = true;
            return false;
        }
    }
    if (w->axis == TQ_CALIB_PER_TENSOR) {
        *outer = 1, *inner = n;
        return true;
    }
    if (w->axis >= v->rank || v->dims[w->axis] != w->n_ch) {
        w->bad_shape = true;
        return false;
    }
    *outer = 1, *inner = 1;
    for (int d = 0; d < w->axis; d++)
        *outer *= v->dims[d];
    for (int d = w->axis + 1; d < v->rank; d++)
        *inner *= v->dims[d];
    return true;
}

static void observe_minmax(chan_stat *c, const float *x, int64_t n)
{
    for (int64_t k = 0; k < n; k++) {
        float f = x[k];
        if (f != f)
            continue; /* NaN-aware like ORT's np.nanmin/nanmax */
        if (!c->seen) {
            c->mn = c->mx = f;
            c->seen = true;
        }
        c->mn = f < c->mn ? f : c->mn;
        c->mx = f > c->mx ? f : c->mx;
    }
}

static void observe_hist(chan_stat *c, const float *x, int64_t n)
{
    if (!c->hist || !(c->absmax > 0))
        return;
    double scale = HIST_BINS / (double)c->absmax;
    for (int64_t k = 0; k < n; k++) {
        float f = fabsf(x[k]);
        if (f != f)
            continue;
        double b = f * scale;
        int bin = b >= HIST_BINS - 1 ? HIST_BINS - 1 : (int)b;
        c->hist[bin]++;
    }
}

static void observe(const tq_value *v, void *user)
{
    calib_state *st = user;
    if (v->dtype != TQ_FLOAT || !v->name || !v->data)
        return;
    for (int i = 0; i < st->n; i++) {
        watch *w = &st->w[i];
        if (strcmp(w->name, v->name) != 0)
            continue;
        int64_t outer, inner;
        if (!watch_layout(w, v, &outer, &inner))
            return;
        const float *x = v->data;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t c = 0; c < w->n_ch; c++) {
                const float *xs = x + (o * w->n_ch + c) * inner;
                if (st->pass == 1)
                    observe_minmax(&w->ch[c], xs, inner);
                else
                    observe_hist(&w->ch[c], xs, inner);
            }
        return;
    }
}

/* KL(P||Q) search; returns the number of bins to keep. */
static int entropy_bins(const uint64_t *hist, int levels)
{
    double *p = malloc(HIST_BINS * sizeof(double));
    double *q = malloc(HIST_BINS * sizeof(double));
    if (!p || !q) {
        free(p);
        free(q);
        return HIST_BINS;
    }
    double total_tail = 0;
    for (int j = 0; j < HIST_BINS; j++)
        total_tail += (double)hist[j];
    double best = INFINITY;
    int best_i = HIST_BINS;
    double tail = total_tail; /* sum of hist[i:] maintained incrementally */
    for (int j = 0; j < levels; j++)
        tail -= (double)hist[j];
    for (int i = levels; i <= HIST_BINS; i++) {
        if (i > levels)
            tail -= (double)hist[i - 1];
        double psum = 0;
        for (int j = 0; j < i; j++)
            p[j] = (double)hist[j];
        p[i - 1] += tail;
        for (int j = 0; j < i; j++)
            psum += p[j];
        if (psum <= 0)
            continue;
        /* Q: i bins merged into `levels` groups (the last takes the rest). */
        int merged = i / levels;
        for (int l = 0; l < levels; l++) {
            int a = l * merged, b = l == levels - 1 ? i : a + merged;
            double sum = 0;
            int nz = 0;
            for (int j = a; j < b; j++) {
                sum += (double)hist[j];
                nz += hist[j] != 0;
            }
            for (int j = a; j < b; j++)
                q[j] = hist[j] != 0 && nz ? sum / nz : 0.0;
        }
        double qsum = 0;
        for (int j = 0; j < i; j++)
            qsum += q[j];
        double kl = 0;
        for (int j = 0; j < i && qsum > 0; j++) {
            if (p[j] <= 0)
                continue;
            double pj = p[j] / psum;
            /* Outliers folded into p[i-1] may land on an empty q bin: smooth
             * with a tiny mass rather than declaring the candidate infinite. */
            double qj = q[j] > 0 ? q[j] / qsum : 1e-4 / i;
            kl += pj * log(pj / qj);
        }
        if (kl < best) {
            best = kl;
            best_i = i;
        }
    }
    free(p);
    free(q);
    return best_i;
}

/* Is name a graph output, or does it become one through ops that only move
 * or rename data (Squeeze, Reshape, Flatten, ...)? */
static bool reaches_output(const tq_graph *g, const char *name, int depth)
{
    static const char *const movers[] = {"Identity", "Squeeze", "Unsqueeze", "Reshape",
                                         "Flatten", NULL};
    if (tq_graph_is_output(g, name))
        return true;
    if (depth > 8)
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        const tq_node *n = &g->nodes[i];
        if (n->n_inputs < 1 || n->n_outputs < 1 || strcmp(n->inputs[0], name) != 0)
            continue;
        for (int k = 0; movers[k]; k++)
            if (tq_node_is_onnx(n, movers[k]) && reaches_output(g, n->outputs[0], depth + 1))
                return true;
    }
    return false;
}

/* The method's clipping threshold for one channel's |x| histogram. */
static float threshold_of(const chan_stat *w, const tq_quant_settings *s)
{
    double width = w->absmax / (double)HIST_BINS;
    uint64_t total = 0;
    for (int j = 0; j < HIST_BINS; j++)
        total += w->hist[j];
    if (total == 0)
        return w->absmax;
    if (s->method == TQ_CALIB_MSE)
        return tq_calib_mse_threshold(w->hist, HIST_BINS, w->absmax, w->mn, w->mx);
    if (s->method == TQ_CALIB_PERCENTILE) {
        double target = s->percentile / 100.0 * (double)total, cum = 0;
        for (int j = 0; j < HIST_BINS; j++) {
            cum += (double)w->hist[j];
            if (cum >= target)
                return (float)((j + 1) * width);
        }
        return w->absmax;
    }
    /* The zero bin of a ReLU output holds most of the mass and would pull the
     * KL search to a tiny threshold; like TensorRT's calibrator, give it the
     * count of its neighbour (zero is exactly representable anyway). */
    uint64_t *h = malloc(HIST_BINS * sizeof *h);
    if (!h)
        return w->absmax;
    memcpy(h, w->hist, HIST_BINS * sizeof *h);
    h[0] = h[1];
    int levels = w->mn >= 0 ? 256 : 128;
    float t = (float)(entropy_bins(h, levels) * width);
    free(h);
    return t;
}

/* A channel's final range: MinMax, clipped at the method's threshold. */
static void channel_range(const chan_stat *c, const tq_quant_settings *s, bool keep_minmax,
                          float *lo, float *hi)
{
    *lo = c->seen ? c->mn : 0.0f;
    *hi = c->seen ? c->mx : 0.0f;
    if (c->hist && c->seen && !keep_minmax) {
        float t = threshold_of(c, s);
        *lo = fmaxf(*lo, -t);
        *hi = fminf(*hi, t);
    }
}

void tq_range_clear(tq_range *r)
{
    free(r->name);
    free(r->cmin);
    free(r->cmax);
    memset(r, 0, sizeof(*r));
}

int tq_range_copy(tq_range *dst, const tq_range *src, tq_error *err)
{
    *dst = *src;
    dst->name = strdup(src->name);
    size_t nb = (size_t)(src->n_ch > 0 ? src->n_ch : 1) * sizeof(float);
    dst->cmin = src->n_ch > 0 ? malloc(nb) : NULL;
    dst->cmax = src->n_ch > 0 ? malloc(nb) : NULL;
    if (!dst->name || (src->n_ch > 0 && (!dst->cmin || !dst->cmax))) {
        tq_range_clear(dst);
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    if (src->n_ch > 0) {
        memcpy(dst->cmin, src->cmin, nb);
        memcpy(dst->cmax, src->cmax, nb);
    }
    return TQ_OK;
}

const tq_range *tq_range_find(const tq_range_table *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->r[i].name, name) == 0)
            return &t->r[i];
    return NULL;
}

void tq_range_table_free(tq_range_table *t)
{
    for (int i = 0; i < t->n; i++)
        tq_range_clear(&t->r[i]);
    free(t->r);
    for (int i = 0; i < t->n_trained; i++)
        tq_range_clear(&t->trained[i]);
    free(t->trained);
    for (int i = 0; i < t->n_input_names; i++)
        free(t->input_names[i]);
    free(t->input_names);
    memset(t, 0, sizeof(*t));
}

int tq_range_table_copy(tq_range_table *dst, const tq_range_table *src, tq_error *err)
{
    memset(dst, 0, sizeof(*dst));
    dst->n_samples = src->n_samples;
    dst->n_equalized_inputs = src->n_equalized_inputs;
    dst->n_equalized_pairs = src->n_equalized_pairs;
    dst->n_centered_inputs = src->n_centered_inputs;
    dst->r = calloc((size_t)(src->n > 0 ? src->n : 1), sizeof(tq_range));
    dst->input_names = calloc((size_t)(src->n_input_names > 0 ? src->n_input_names : 1),
                              sizeof(char *));
    bool ok = dst->r && dst->input_names;
    for (int i = 0; ok && i < src->n; i++) {
        ok = tq_range_copy(&dst->r[i], &src->r[i], NULL) == TQ_OK;
        dst->n += ok;
    }
    for (int i = 0; ok && i < src->n_input_names; i++) {
        ok = (dst->input_names[i] = strdup(src->input_names[i])) != NULL;
        dst->n_input_names += ok;
    }
    if (ok)
        return TQ_OK;
    tq_range_table_free(dst);
    return tq_fail(err, TQ_ENOMEM, "out of memory");
}

/* One calibration input, converted to float32 and checked. */
typedef struct calib_input {
    tq_tensor_view view;   /* name and per-sample shape from the model */
    const float *data;
    float *owned;          /* converted copy, when the file was not float32 */
    int64_t sample_elems;
} calib_input;

static int check_inputs(const tq_tensor_set *set, const char *path,
                        calib_input *ci, int n_in, int64_t *n_samples, tq_error *err)
{
    *n_samples = -1;
    for (int i = 0; i < n_in; i++) {
        const tq_tensor *t = tq_tensor_set_find(set, ci[i].view.name);
        if (!t) {
            /* Name the keys that are there: usually a renamed input. Keys that
             * are not inputs (targets, labels) are ignored, as ORT's tools do. */
            char keys[512] = "";
            for (int k = 0; k < set->n; k++)
                snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s'%s'", k ? ", " : "",
                         set->t[k].name);
            return tq_fail(err, TQ_EFORMAT, "%s: no entry for model input '%s' (keys: %s)", path,
                           ci[i].view.name, set->n ? keys : "none");
        }
        const tq_tensor_view *v = &ci[i].view;
        bool shape_ok = t->rank == v->rank;
        for (int d = 1; shape_ok && d < v->rank; d++)
            shape_ok = v->dims[d] < 0 || v->dims[d] == t->dims[d];
        if (!shape_ok) {
            char want[128] = "N", got[128] = "";
            for (int d = 1; d < v->rank; d++)
                snprintf(want + strlen(want), sizeof(want) - strlen(want), ",%lld",
                         (long long)v->dims[d]);
            for (int d = 0; d < t->rank; d++)
                snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%lld", d ? "," : "",
                         (long long)t->dims[d]);
            return tq_fail(err, TQ_EFORMAT,
                           "%s: entry '%s' has shape [%s]; input '%s' needs a stack [%s]", path,
                           t->name, got, v->name, want);
        }
        if (t->rank < 1 || t->dims[0] == 0)
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s' holds zero samples", path, t->name);
        if (*n_samples >= 0 && t->dims[0] != *n_samples)
            return tq_fail(err, TQ_EFORMAT,
                           "%s: entry '%s' has %lld samples but other entries have %lld", path,
                           t->name, (long long)t->dims[0], (long long)*n_samples);
        *n_samples = t->dims[0];
        int64_t numel = tq_tensor_numel(t);
        ci[i].sample_elems = numel / t->dims[0];
        if (t->dtype == TQ_FLOAT) {
            ci[i].data = t->data;
        } else if (t->dtype == TQ_FLOAT16 || t->dtype == TQ_DOUBLE) {
            ci[i].owned = malloc((size_t)(numel > 0 ? numel : 1) * sizeof(float));
            if (!ci[i].owned)
                return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
            for (int64_t k = 0; k < numel; k++)
                ci[i].owned[k] = t->dtype == TQ_DOUBLE ? (float)((const double *)t->data)[k]
                                                       : tq_half_to_float(((const uint16_t *)t->data)[k]);
            ci[i].data = ci[i].owned;
        } else {
            return tq_fail(err, TQ_EFORMAT,
                           "%s: entry '%s' is %s; calibration data must be floating point", path,
                           t->name, tq_dtype_name(t->dtype));
        }
        for (int64_t k = 0; k < numel; k++)
            if (!isfinite(ci[i].data[k]))
                return tq_fail(err, TQ_EFORMAT,
                               "%s: entry '%s': sample %lld holds %s (element %lld)", path,
                               t->name, (long long)(k / ci[i].sample_elems),
                               isnan(ci[i].data[k]) ? "NaN" : "Inf", (long long)k);
    }
    return TQ_OK;
}

static int run_pass(tq_session *sess, calib_input *ci, int n_in, int64_t n_samples, int64_t batch,
                    tq_error *err)
{
    tq_tensor_view views[16];
    for (int64_t start = 0; start < n_samples; start += batch) {
        int64_t count = n_samples - start < batch ? n_samples - start : batch;
        for (int i = 0; i < n_in; i++) {
            views[i] = ci[i].view;
            views[i].dtype = TQ_FLOAT;
            views[i].dims[0] = count;
            views[i].data = (void *)(ci[i].data + start * ci[i].sample_elems);
        }
        int rc = tq_session_run(sess, views, n_in, NULL, 0, err);
        if (rc)
            return rc;
    }
    return TQ_OK;
}

/* The calibration set opened against a model: checked float32 inputs and an
 * unfused session to stream them through. */
typedef struct calib_feed {
    tq_tensor_set set;
    calib_input ci[16];
    int n_in;
    int64_t n_samples, batch;
    tq_session *sess;
} calib_feed;

static void feed_close(calib_feed *f)
{
    tq_session_free(&f->sess);
    for (int i = 0; i < f->n_in; i++)
        free(f->ci[i].owned);
    tq_tensor_set_free(&f->set);
}

static int feed_open(calib_feed *f, const tq_model *m, const char *npz_path,
                     const tq_quant_settings *s, tq_error *err)
{
    memset(f, 0, sizeof(*f));
    if (!npz_path)
        return tq_fail(err, TQ_EINVAL, "static quantisation needs a calibration set (--calibration CAL.npz)");
    int n_in = tq_model_num_inputs(m);
    if (n_in < 1 || n_in > 16)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: %d model inputs (calibration handles 1 to 16)",
                       m->path ? m->path : "model", n_in);
    f->n_in = n_in;
    calib_input *ci = f->ci;
    int rc = tq_npz_read(npz_path, &f->set, err);
    for (int i = 0; !rc && i < n_in; i++) {
        rc = tq_model_input(m, i, &ci[i].view);
        if (!rc && ci[i].view.dtype != TQ_FLOAT)
            rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s' is %s; calibration feeds float32 inputs",
                         m->path ? m->path : "model", ci[i].view.name,
                         tq_dtype_name(ci[i].view.dtype));
        if (!rc && ci[i].view.rank < 1)
            rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s' is a scalar; calibration stacks samples on axis 0",
                         m->path ? m->path : "model", ci[i].view.name);
    }
    if (!rc)
        rc = check_inputs(&f->set, npz_path, ci, n_in, &f->n_samples, err);
    /* A fixed batch dimension dictates the run size. */
    f->batch = s->calib_batch > 0 ? s->calib_batch : 16;
    for (int i = 0; !rc && i < n_in; i++)
        if (ci[i].view.dims[0] > 0) {
            f->batch = ci[i].view.dims[0];
            if (f->n_samples % f->batch)
                rc = tq_fail(err, TQ_EFORMAT,
                             "%s: %lld samples do not fill whole batches of %lld (input '%s' has a fixed batch)",
                             npz_path, (long long)f->n_samples, (long long)f->batch, ci[i].view.name);
        }
    /* unfused: fp32 fusion (graph/fuse.h) folds away values we watch */
    if (!rc)
        rc = tq_session_create_ex(&f->sess, m, false, err);
    if (rc)
        feed_close(f);
    return rc;
}

static int feed_pass(calib_feed *f, tq_value_observer fn, void *user, tq_error *err)
{
    tq_session_set_observer(f->sess, fn, user);
    return run_pass(f->sess, f->ci, f->n_in, f->n_samples, f->batch, err);
}

int tq_calib_observe(const tq_model *m, const char *npz_path, const tq_quant_settings *s,
                     tq_value_observer fn, void *user, int64_t *n_samples, tq_error *err)
{
    calib_feed f;
    int rc = feed_open(&f, m, npz_path, s, err);
    if (rc)
        return rc;
    rc = feed_pass(&f, fn, user, err);
    if (n_samples)
        *n_samples = f.n_samples;
    feed_close(&f);
    return rc;
}

/* The watched tensor's final range (per channel when asked). */
static int watch_range(const watch *w, const tq_quant_settings *s, bool keep_minmax, tq_range *r,
                       const char *path, tq_error *err)
{
    if (w->oom)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    if (w->bad_shape)
        return tq_fail(err, TQ_EFORMAT, "%s: tensor '%s': its channel axis %d does not fit the "
                       "shapes seen during calibration", path, w->name, w->axis_req);
    r->name = strdup(w->name);
    if (!r->name)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!w->ch) { /* never computed (a folded constant): [0, 0] as before */
        r->rmin = r->rmax = 0.0f;
        return TQ_OK;
    }
    if (w->axis != TQ_CALIB_PER_TENSOR) {
        r->axis = w->axis;
        r->n_ch = w->n_ch;
        r->cmin = malloc((size_t)(w->n_ch > 0 ? w->n_ch : 1) * sizeof(float));
        r->cmax = malloc((size_t)(w->n_ch > 0 ? w->n_ch : 1) * sizeof(float));
        if (!r->cmin || !r->cmax)
            return tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    for (int64_t c = 0; c < w->n_ch; c++) {
        float lo, hi;
        channel_range(&w->ch[c], s, keep_minmax, &lo, &hi);
        if (r->n_ch) {
            r->cmin[c] = lo;
            r->cmax[c] = hi;
        }
        r->rmin = c == 0 || lo < r->rmin ? lo : r->rmin;
        r->rmax = c == 0 || hi > r->rmax ? hi : r->rmax;
    }
    return TQ_OK;
}

static void watches_free(calib_state *st)
{
    for (int i = 0; i < st->n && st->w; i++) {
        for (int64_t c = 0; st->w[i].ch && c < st->w[i].n_ch; c++)
            free(st->w[i].ch[c].hist);
        free(st->w[i].ch);
    }
    free(st->w);
}

int tq_calibrate(const tq_model *m, const char *npz_path, const tq_quant_settings *s,
                 const char *const *names, const int *axes, int n_names, tq_range_table *out,
                 tq_error *err)
{
    memset(out, 0, sizeof(*out));
    calib_state st = {0};
    calib_feed f;
    int rc = feed_open(&f, m, npz_path, s, err);
    if (rc)
        return rc;
    int n_in = f.n_in;
    st.w = calloc((size_t)(n_names > 0 ? n_names : 1), sizeof(watch));
    out->r = calloc((size_t)(n_names > 0 ? n_names : 1), sizeof(tq_range));
    out->input_names = calloc((size_t)n_in, sizeof(char *));
    if (!st.w || !out->r || !out->input_names)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    st.n = st.w ? n_names : 0;
    for (int i = 0; !rc && i < n_names; i++) {
        st.w[i].name = names[i];
        st.w[i].axis_req = axes ? axes[i] : TQ_CALIB_PER_TENSOR;
    }
    for (int i = 0; !rc && i < n_in; i++) {
        out->input_names[i] = strdup(f.ci[i].view.name);
        if (!out->input_names[i])
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        out->n_input_names++;
    }
    if (!rc) {
        st.pass = 1;
        rc = feed_pass(&f, observe, &st, err);
    }
    if (!rc && s->method != TQ_CALIB_MINMAX) {
        /* one |x| histogram per channel over that channel's own [0, max|x|] */
        for (int i = 0; !rc && i < n_names; i++) {
            watch *w = &st.w[i];
            for (int64_t c = 0; !rc && w->ch && c < w->n_ch; c++) {
                chan_stat *cs = &w->ch[c];
                cs->absmax = fmaxf(fabsf(cs->mn), fabsf(cs->mx));
                cs->hist = calloc(HIST_BINS, sizeof(uint64_t));
                if (!cs->hist)
                    rc = tq_fail(err, TQ_ENOMEM, "out of memory");
            }
        }
        st.pass = 2;
        if (!rc)
            rc = feed_pass(&f, observe, &st, err);
    }
    for (int i = 0; !rc && i < n_names; i++) {
        /* Entropy and MSE never clip a graph output: that would saturate
         * the model's answer itself (a score, a logit) rather than trade
         * rare outliers of an intermediate tensor for resolution. */
        bool keep_minmax = (s->method == TQ_CALIB_ENTROPY || s->method == TQ_CALIB_MSE) &&
                           reaches_output(&m->graph, st.w[i].name, 0);
        rc = watch_range(&st.w[i], s, keep_minmax, &out->r[out->n], npz_path, err);
        out->n += out->r[out->n].name != NULL;
    }
    out->n_samples = f.n_samples;
    feed_close(&f);
    watches_free(&st);
    if (rc)
        tq_range_table_free(out);
    return rc;
}
