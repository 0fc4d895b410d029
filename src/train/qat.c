/* QAT fine-tuning loop (qat.h): load the training set, pick the objective
 * (targets, labels, or the fp32 model as teacher), take the fake-quant
 * activation ranges from the static export's own calibration
 * (tq_static_ranges: the user's method, percentile, float-outputs, on the
 * --calibration set or else on n_calibration training samples written to a
 * temporary .npz, over the model as it stands before training), keep them
 * frozen while Adam/SGD trains over seeded shuffles, and write the weights
 * back. The caller exports with the same ranges, or recalibrates. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/npz.h"
#include "quant/quant_internal.h"
#include "train/autograd.h"
#include "train/autograd_kernels.h"
#include "train/qat.h"
#include "train/qat_optim.h"
#include "util/error.h"
#include "util/pcg64.h"

TQ_API void tq_qat_default_settings(tq_qat_settings *q)
{
    memset(q, 0, sizeof(*q));
    q->epochs = 10;
    q->lr = 1e-4;
    q->batch = 32;
    q->n_calibration = 64;
    q->optimizer = TQ_QAT_ADAM;
}

/* The training set as float arrays: one per graph input, plus the objective. */
typedef struct train_data {
    int n_inputs;
    float **x;            /* [n_inputs][N * sample_numel] */
    int64_t *per;         /* sample_numel of each input */
    int64_t n;
    float *target;        /* [N * out_per] (targets or teacher) or NULL */
    int64_t *label;       /* [N] or NULL */
    int64_t out_per;
    bool centered;        /* MSE with the error's batch mean removed */
} train_data;

static void data_free(train_data *d)
{
    for (int i = 0; i < d->n_inputs; i++)
        free(d->x[i]);
    free(d->x);
    free(d->per);
    free(d->target);
    free(d->label);
    memset(d, 0, sizeof(*d));
}

/* Any numeric tensor as float (ints and halves are converted). */
static int to_float(const tq_tensor *t, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case TQ_FLOAT: out[i] = ((const float *)t->data)[i]; break;
        case TQ_DOUBLE: out[i] = (float)((const double *)t->data)[i]; break;
        case TQ_FLOAT16: out[i] = tq_half_to_float(((const uint16_t *)t->data)[i]); break;
        case TQ_INT64: out[i] = (float)((const int64_t *)t->data)[i]; break;
        case TQ_INT32: out[i] = (float)((const int32_t *)t->data)[i]; break;
        case TQ_UINT8: out[i] = (float)((const uint8_t *)t->data)[i]; break;
        case TQ_INT8: out[i] = (float)((const int8_t *)t->data)[i]; break;
        default: return -1;
        }
    }
    return 0;
}

static int load_data(tq_ag_graph *g, const tq_tensor_set *set, const char *path, int64_t limit,
                     train_data *d, tq_error *err)
{
    d->n_inputs = tq_ag_n_inputs(g);
    d->x = calloc((size_t)d->n_inputs + 1, sizeof(float *));
    d->per = calloc((size_t)d->n_inputs + 1, sizeof(int64_t));
    if (!d->x || !d->per)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    d->n = -1;
    for (int i = 0; i < d->n_inputs; i++) {
        const char *name = tq_ag_input_name(g, i);
        const tq_tensor *t = tq_tensor_set_find(set, name);
        if (!t)
            return tq_fail(err, TQ_EFORMAT, "%s: no entry '%s' (the model input); the training "
                           "set needs one [N, ...] stack per model input", path, name);
        int64_t per = tq_ag_input_sample_numel(g, i), total = tq_tensor_numel(t);
        if (t->rank < 1 || t->dims[0] < 1 || total != t->dims[0] * per)
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s' must be [N, ...] with %lld values "
                           "per sample", path, name, (long long)per);
        if (d->n >= 0 && t->dims[0] != d->n)
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s' has %lld samples, an earlier input "
                           "has %lld", path, name, (long long)t->dims[0], (long long)d->n);
        d->n = t->dims[0];
        d->per[i] = per;
    }
    if (d->n < 1)
        return tq_fail(err, TQ_EFORMAT, "%s: no samples", path);
    int64_t n = limit > 0 && limit < d->n ? limit : d->n;
    for (int i = 0; i < d->n_inputs; i++) {
        const tq_tensor *t = tq_tensor_set_find(set, tq_ag_input_name(g, i));
        d->x[i] = malloc((size_t)(d->n * d->per[i]) * sizeof(float));
        if (!d->x[i])
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        if (to_float(t, d->n * d->per[i], d->x[i]))
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s' has type %s (numeric needed)", path,
                           t->name, tq_dtype_name(t->dtype));
    }
    const tq_tensor *lab = tq_tensor_set_find(set, "label");
    const tq_tensor *tgt = tq_tensor_set_find(set, "target");
    if (lab && !tgt) {
        if (tq_tensor_numel(lab) != d->n)
            return tq_fail(err, TQ_EFORMAT, "%s: entry 'label' must hold one class per sample "
                           "(%lld)", path, (long long)d->n);
        d->label = malloc((size_t)d->n * sizeof(int64_t));
        float *tmp = malloc((size_t)d->n * sizeof(float));
        int bad = !d->label || !tmp || to_float(lab, d->n, tmp);
        for (int64_t k = 0; k < d->n && !bad; k++) {
            d->label[k] = (int64_t)tmp[k];
            bad = tmp[k] < 0 || (float)d->label[k] != tmp[k];
        }
        free(tmp);
        if (bad)
            return tq_fail(err, TQ_EFORMAT, "%s: entry 'label' must hold non-negative integer "
                           "class indices", path);
    } else if (tgt) {
        int64_t tn = tq_tensor_numel(tgt);
        if (tgt->rank < 1 || tgt->dims[0] != d->n || tn % d->n)
            return tq_fail(err, TQ_EFORMAT, "%s: entry 'target' must be [N, ...] with N = %lld",
                           path, (long long)d->n);
        d->out_per = tn / d->n;
        d->target = malloc((size_t)tn * sizeof(float));
        if (!d->target || to_float(tgt, tn, d->target))
            return tq_fail(err, TQ_EFORMAT, "%s: entry 'target' is not numeric", path);
    }
    d->n = n;
    return TQ_OK;
}

/* Copy the samples idx[0..b) of every input into contiguous batch buffers. */
static void gather(const train_data *d, const int64_t *idx, int64_t b, float **bx)
{
    for (int i = 0; i < d->n_inputs; i++)
        for (int64_t r = 0; r < b; r++)
            memcpy(bx[i] + r * d->per[i], d->x[i] + idx[r] * d->per[i],
                   (size_t)d->per[i] * sizeof(float));
}

typedef struct batcher {
    float **bx;
    int64_t *idx;
    int n;
} batcher;

static int batcher_init(batcher *b, const train_data *d, int64_t batch)
{
    b->n = d->n_inputs;
    b->bx = calloc((size_t)b->n + 1, sizeof(float *));
    b->idx = malloc((size_t)(d->n > batch ? d->n : batch) * sizeof(int64_t));
    if (!b->bx || !b->idx)
        return -1;
    for (int i = 0; i < b->n; i++)
        if (!(b->bx[i] = malloc((size_t)(batch * d->per[i]) * sizeof(float))))
            return -1;
    return 0;
}

static void batcher_free(batcher *b)
{
    for (int i = 0; b->bx && i < b->n; i++)
        free(b->bx[i]);
    free(b->bx);
    free(b->idx);
}

/* Run the whole set forward (fake quant as currently set) in order. When
 * teacher is non-NULL, store the outputs there (out_per values a sample). */
static int forward_all(tq_ag_graph *g, const train_data *d, batcher *bt, int64_t n, int64_t batch,
                       const int64_t *order, float *teacher, int64_t *out_per, tq_error *err)
{
    for (int64_t s = 0; s < n; s += batch) {
        int64_t b = n - s < batch ? n - s : batch;
        gather(d, order + s, b, bt->bx);
        int rc = tq_ag_forward(g, (const float *const *)bt->bx, b, err);
        if (rc)
            return rc;
        int64_t on;
        const float *y = tq_ag_output(g, &on, NULL, NULL);
        if (on % b)
            return tq_fail(err, TQ_EUNSUPPORTED, "output size %lld is not a multiple of the "
                           "batch %lld", (long long)on, (long long)b);
        *out_per = on / b;
        if (teacher)
            memcpy(teacher + s * *out_per, y, (size_t)on * sizeof(float));
    }
    return TQ_OK;
}

/* The objective on one batch; fills dy when given. */
static int batch_loss(const tq_ag_graph *g, const train_data *d, const int64_t *idx, int64_t b,
                      float *tbuf, int64_t *lbuf, float *dy, double *loss, const char *path,
                      tq_error *err)
{
    int64_t on, dims[TQ_MAX_RANK];
    int rank;
    const float *y = tq_ag_output(g, &on, &rank, dims);
    int64_t per = on / b;
    if (d->label) {
        if (per < 2)
            return tq_fail(err, TQ_EFORMAT, "%s: 'label' needs a classifier output [N, K>1], "
                           "the model gives %lld value(s) per sample", path, (long long)per);
        for (int64_t r = 0; r < b; r++) {
            lbuf[r] = d->label[idx[r]];
            if (lbuf[r] >= per)
                return tq_fail(err, TQ_EFORMAT, "%s: label %lld is outside the %lld classes",
                               path, (long long)lbuf[r], (long long)per);
        }
        *loss = tq_agk_xent_f(b, per, y, lbuf, dy);
        return TQ_OK;
    }
    if (per != d->out_per)
        return tq_fail(err, TQ_EFORMAT, "%s: 'target' has %lld value(s) per sample, the model "
                       "output %lld", path, (long long)d->out_per, (long long)per);
    for (int64_t r = 0; r < b; r++)
        memcpy(tbuf + r * per, d->target + idx[r] * per, (size_t)per * sizeof(float));
    *loss = d->centered ? tq_agk_mse_centered_f(on, y, tbuf, dy) : tq_agk_mse_f(on, y, tbuf, dy);
    return TQ_OK;
}

/* Give every activation fake quant the export's range of its tensor and
 * freeze it. A fake quant without one would mean the training graph and the
 * export's plan disagree: an error, never a silent MinMax. */
static int set_export_ranges(tq_ag_graph *g, const tq_range_table *ranges, const char *model,
                             tq_error *err)
{
    int n_act = 0;
    tq_ag_n_fake_quant(g, NULL, &n_act);
    tq_ag_reset_ranges(g);
    for (int i = 0; i < n_act; i++) {
        const char *name = tq_ag_act_name(g, i);
        const tq_range *r = tq_range_find(ranges, name);
        if (!r)
            return tq_fail(err, TQ_EINTERNAL, "%s: tensor '%s' is fake-quantised for QAT but the "
                           "static export calibrates no range for it", model, name);
        tq_ag_set_act_range(g, i, r->rmin, r->rmax);
        if (r->n_ch > 0 &&
            tq_ag_set_act_channel_ranges(g, i, r->axis, r->n_ch, r->cmin, r->cmax))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    tq_ag_set_range_mode(g, TQ_AG_RANGE_FROZEN);
    return TQ_OK;
}

/* The ranges the fake quantisation holds now (after training: the ones it
 * trained with), as a table for the report. */
static int read_ranges(const tq_ag_graph *g, tq_range_table *out, tq_error *err)
{
    int n_act = 0;
    tq_ag_n_fake_quant(g, NULL, &n_act);
    memset(out, 0, sizeof(*out));
    out->r = calloc((size_t)(n_act > 0 ? n_act : 1), sizeof(tq_range));
    if (!out->r)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    for (int i = 0; i < n_act; i++) {
        tq_range *r = &out->r[out->n];
        if (!tq_ag_act_range(g, i, &r->rmin, &r->rmax))
            continue;
        if (!(r->name = strdup(tq_ag_act_name(g, i))))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        out->n++;
        const float *lo, *hi;
        int64_t nc = tq_ag_act_channel_ranges(g, i, &r->axis, &lo, &hi);
        if (nc > 0) {
            r->cmin = malloc((size_t)nc * sizeof(float));
            r->cmax = malloc((size_t)nc * sizeof(float));
            if (!r->cmin || !r->cmax)
                return tq_fail(err, TQ_ENOMEM, "out of memory");
            memcpy(r->cmin, lo, (size_t)nc * sizeof(float));
            memcpy(r->cmax, hi, (size_t)nc * sizeof(float));
            r->n_ch = nc;
        }
    }
    return TQ_OK;
}

/* The calibration samples as an .npz with the model's per-sample shapes. */
static int write_calibration(const tq_model *m, const tq_ag_graph *g, const train_data *d,
                             const int64_t *order,
                             int64_t n_cal, char **dir_out, char **path_out, tq_error *err)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = malloc(strlen(tmp && tmp[0] ? tmp : "/tmp") + 32);
    if (!dir)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    sprintf(dir, "%s/tinyq-qat-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        int rc = tq_fail(err, TQ_EIO, "%s: cannot create a temporary folder for the calibration "
                         "set", dir);
        free(dir);
        return rc;
    }
    char *path = malloc(strlen(dir) + 16);
    tq_tensor_set set = {0};
    int rc = path ? TQ_OK : tq_fail(err, TQ_ENOMEM, "out of memory");
    if (path)
        sprintf(path, "%s/calib.npz", dir);
    for (int i = 0; i < d->n_inputs && !rc; i++) {
        tq_tensor t = {0};
        t.name = (char *)tq_ag_input_name(g, i);
        t.dtype = TQ_FLOAT;
        t.rank = 2;
        t.dims[0] = n_cal;
        t.dims[1] = d->per[i];
        for (int k = 0; k < m->graph.n_inputs; k++) {
            const tq_value_info *vi = &m->graph.inputs[k];
            if (strcmp(vi->name, t.name) == 0 && vi->rank >= 2) {
                t.rank = vi->rank;
                for (int dd = 1; dd < vi->rank; dd++)
                    t.dims[dd] = vi->dims[dd];
            }
        }
        t.nbytes = (size_t)(n_cal * d->per[i]) * sizeof(float);
        float *buf = malloc(t.nbytes ? t.nbytes : 1);
        if (!buf) {
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
            break;
        }
        for (int64_t r = 0; r < n_cal; r++)
            memcpy(buf + r * d->per[i], d->x[i] + order[r] * d->per[i],
                   (size_t)d->per[i] * sizeof(float));
        t.data = buf;
        rc = tq_tensor_set_add(&set, &t, err);
        free(buf);
    }
    if (!rc)
        rc = tq_npz_write(path, &set, 0, err);
    tq_tensor_set_free(&set);
    if (rc) {
        tq_qat_remove_calibration(dir, path);
        return rc;
    }
    *dir_out = dir;
    *path_out = path;
    return TQ_OK;
}

void tq_qat_remove_calibration(char *dir, char *path)
{
    if (path)
        unlink(path);
    if (dir)
        rmdir(dir);
    free(path);
    free(dir);
}

int tq_qat_finetune(tq_model *m, const tq_quant_settings *s, tq_qat_settings *q,
                    const char *calibration_npz, tq_range_table *ranges, tq_range_table *trained,
                    char **calib_dir, char **calib_path, tq_error *err)
{
    *calib_dir = *calib_path = NULL;
    memset(ranges, 0, sizeof(*ranges));
    memset(trained, 0, sizeof(*trained));
    const char *path = q->train_npz;
    if (!path)
        return tq_fail(err, TQ_EINVAL, "quantize: --mode qat needs --train DATA.npz");
    if (q->epochs < 0 || q->epochs > TQ_QAT_MAX_EPOCHS || q->batch < 1 || q->n_calibration < 1 ||
        !(q->lr >= 0) || q->lr > 1.0)
        return tq_fail(err, TQ_EINVAL, "quantize: qat settings out of range (epochs 0..%d, "
                       "batch >= 1, n-calibration >= 1, lr in [0, 1])", TQ_QAT_MAX_EPOCHS);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int epochs = q->smoke ? (q->epochs < 1 ? q->epochs : 1) : q->epochs;
    int64_t limit = q->smoke ? 64 : 0;
    if (q->max_train > 0 && (limit == 0 || q->max_train < limit))
        limit = q->max_train;

    tq_ag_graph *g = NULL;
    tq_tensor_set set = {0};
    train_data d = {0};
    batcher bt = {0};
    tq_optim opt = {0};
    float **params = NULL, **grads = NULL, *dy = NULL, *tbuf = NULL;
    int64_t *numel = NULL, *order = NULL, *lbuf = NULL;
    int rc = tq_ag_build(&g, m, s, err);
    if (!rc)
        rc = tq_npz_read(path, &set, err);
    if (!rc)
        rc = load_data(g, &set, path, limit, &d, err);
    d.centered = q->centered != 0;
    tq_tensor_set_free(&set);
    int64_t batch = q->batch;
    if (!rc && batcher_init(&bt, &d, batch))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    order = rc ? NULL : malloc((size_t)d.n * sizeof(int64_t));
    if (!rc && !order)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, q->seed);
    int64_t n_cal = 0;
    if (!rc) {
        /* The calibration sample: the first n_calibration of one seeded shuffle. */
        tq_pcg64_permutation(&rng, order, (size_t)d.n);
        n_cal = q->n_calibration < d.n ? q->n_calibration : d.n;
    }
    int64_t *cal_order = rc ? NULL : malloc((size_t)(n_cal ? n_cal : 1) * sizeof(int64_t));
    if (!rc && !cal_order)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!rc)
        memcpy(cal_order, order, (size_t)n_cal * sizeof(int64_t));
    /* The export's ranges, calibrated once on the model before training
     * (equalised and BN-folded already, as the export sees it). */
    if (!rc && !calibration_npz)
        rc = write_calibration(m, g, &d, cal_order, n_cal, calib_dir, calib_path, err);
    if (!rc)
        rc = tq_static_ranges(m, s, calibration_npz ? calibration_npz : *calib_path, ranges, err);
    if (!rc)
        rc = set_export_ranges(g, ranges, m->path ? m->path : "model", err);
    /* Teacher: the fp32 model's own outputs, before any weight moves. */
    if (!rc && !d.label && !d.target) {
        int64_t per = 0;
        tq_ag_set_fake_quant(g, 0);
        for (int64_t i = 0; i < d.n; i++)
            order[i] = i;
        rc = forward_all(g, &d, &bt, 1, 1, order, NULL, &per, err);
        d.target = rc ? NULL : malloc((size_t)(d.n * per) * sizeof(float));
        if (!rc && !d.target)
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        if (!rc)
            rc = forward_all(g, &d, &bt, d.n, batch, order, d.target, &per, err);
        d.out_per = per;
        snprintf(q->objective, sizeof(q->objective), "mse-teacher%s",
                 q->centered ? "-centered" : "");
    } else if (!rc) {
        snprintf(q->objective, sizeof(q->objective), "%s",
                 d.label ? "xent-label" : q->centered ? "mse-target-centered" : "mse-target");
    }
    int np = rc ? 0 : tq_ag_n_params(g);
    if (!rc) {
        params = calloc((size_t)np + 1, sizeof(float *));
        grads = calloc((size_t)np + 1, sizeof(float *));
        numel = calloc((size_t)np + 1, sizeof(int64_t));
        if (!params || !grads || !numel)
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    for (int i = 0; i < np && !rc; i++) {
        params[i] = tq_ag_param(g, i, &grads[i], &numel[i], NULL);
        if (!params[i] || !grads[i])
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    if (!rc && tq_optim_init(&opt, q->optimizer == TQ_QAT_SGD ? TQ_OPTIM_SGD : TQ_OPTIM_ADAM,
                             q->lr, np, params, grads, numel))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    int64_t out_per = 0;
    if (!rc) {
        int64_t tmp_per;
        rc = forward_all(g, &d, &bt, 1, 1, cal_order, NULL, &tmp_per, err);
        out_per = tmp_per;
    }
    if (!rc) {
        dy = malloc((size_t)(batch * out_per) * sizeof(float));
        tbuf = malloc((size_t)(batch * out_per) * sizeof(float));
        lbuf = malloc((size_t)batch * sizeof(int64_t));
        if (!dy || !tbuf || !lbuf)
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    q->epochs_run = 0;
    q->n_steps = 0;
    for (int e = 0; e <= epochs && !rc; e++) {
        tq_ag_set_fake_quant(g, 1);
        for (int64_t i = 0; i < d.n; i++)
            order[i] = i;
        if (!rc && e == 0) {
            /* objective with fake quant before any update, in file order */
            double sum = 0;
            for (int64_t st = 0; st < d.n && !rc; st += batch) {
                int64_t b = d.n - st < batch ? d.n - st : batch;
                gather(&d, order + st, b, bt.bx);
                double l = 0;
                rc = tq_ag_forward(g, (const float *const *)bt.bx, b, err);
                if (!rc)
                    rc = batch_loss(g, &d, order + st, b, tbuf, lbuf, NULL, &l, path, err);
                sum += l * (double)b;
            }
            q->loss_before = sum / (double)d.n;
        }
        if (rc || e == epochs)
            break;
        tq_pcg64_permutation(&rng, order, (size_t)d.n);
        double sum = 0;
        for (int64_t st = 0; st < d.n && !rc; st += batch) {
            int64_t b = d.n - st < batch ? d.n - st : batch;
            gather(&d, order + st, b, bt.bx);
            double l = 0;
            rc = tq_ag_forward(g, (const float *const *)bt.bx, b, err);
            if (!rc)
                rc = batch_loss(g, &d, order + st, b, tbuf, lbuf, dy, &l, path, err);
            if (!rc)
                rc = tq_ag_backward(g, dy, err);
            if (!rc) {
                tq_optim_step(&opt);
                q->n_steps++;
            }
            sum += l * (double)b;
        }
        q->epoch_loss[e] = sum / (double)d.n;
        q->epochs_run = e + 1;
    }
    if (!rc)
        rc = tq_ag_write_back(g, m, err);
    if (!rc)
        rc = read_ranges(g, trained, err);
    if (!rc) {
        q->n_train = d.n;
        q->n_calibration_used = ranges->n_samples;
        tq_ag_n_fake_quant(g, &q->n_fake_quant_weights, &q->n_fake_quant_activations);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    q->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    tq_optim_free(&opt);
    free(params);
    free(grads);
    free(numel);
    free(order);
    free(cal_order);
    free(dy);
    free(tbuf);
    free(lbuf);
    batcher_free(&bt);
    data_free(&d);
    tq_ag_free(&g);
    if (rc) {
        tq_qat_remove_calibration(*calib_dir, *calib_path);
        *calib_dir = *calib_path = NULL;
        tq_range_table_free(ranges);
        tq_range_table_free(trained);
    }
    return rc;
}
