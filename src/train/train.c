/* `tinyq train fr-regressor`: data -> folds (LOSO or k-fold) -> final model
 * on all rows -> ONNX + sidecar -> report -> registry (see tinyq/train.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/sha256.h"
#include "registry/registry_internal.h"
#include "tinyq/registry.h"
#include "tinyq/train.h"
#include "train/dataset.h"
#include "train/export.h"
#include "train/mlp.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/metrics.h"
#include "util/pcg64.h"
#include "util/provenance.h"

void tq_train_default_settings(tq_train_settings *s)
{
    memset(s, 0, sizeof *s);
    s->epochs = 300;
    s->batch_size = 16;
    s->lr = 0.003;
    s->weight_decay = 1e-4;
    s->hidden[0] = 32;
    s->hidden[1] = 16;
    s->n_hidden = 2;
    s->folds = 5;
    s->ship_plcc = 0.95;
}

static void logf_(const tq_train_settings *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const tq_train_settings *s, const char *fmt, ...)
{
    if (!s->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log(s->log_user, line);
}

/* StandardScaler over the rows listed in idx (population std, as sklearn;
 * a constant feature gets std 1 so it maps to 0 instead of dividing by 0). */
static void fit_scaler(const tq_train_data *d, const size_t *idx, size_t n, double *mean,
                       double *std)
{
    int F = d->n_features;
    for (int f = 0; f < F; f++) {
        double s = 0.0;
        for (size_t r = 0; r < n; r++)
            s += d->features[idx[r] * (size_t)F + (size_t)f];
        mean[f] = s / (double)n;
        double v = 0.0;
        for (size_t r = 0; r < n; r++) {
            double e = d->features[idx[r] * (size_t)F + (size_t)f] - mean[f];
            v += e * e;
        }
        std[f] = sqrt(v / (double)n);
        if (!(std[f] > 0.0))
            std[f] = 1.0;
    }
}

/* Network input rows: scaled features, then the (unscaled) codec block.
 * The scaling is done in float32 arithmetic like the loader's. */
static void build_inputs(const tq_train_data *d, const size_t *idx, size_t n,
                         const double *mean, const double *std, double *x)
{
    int F = d->n_features, C = d->codec_width, W = F + C;
    for (size_t r = 0; r < n; r++) {
        const double *src = d->features + idx[r] * (size_t)F;
        double *dst = x + r * (size_t)W;
        for (int f = 0; f < F; f++)
            dst[f] = (double)(((float)src[f] - (float)mean[f]) / (float)std[f]);
        for (int c = 0; c < C; c++)
            dst[F + c] = d->codec[idx[r] * (size_t)C + (size_t)c];
    }
}

/* One model trained on rows `train` (scaler and target scaling fitted on
 * them); predictions for rows `test` in pred (may be the same rows). */
typedef struct fitted {
    tq_mlp mlp;
    double *mean, *std;
    double y_mean, y_std;
} fitted;

static void fitted_free(fitted *f)
{
    tq_mlp_free(&f->mlp);
    free(f->mean);
    free(f->std);
    memset(f, 0, sizeof *f);
}

static int fit_and_predict(const tq_train_settings *s, const tq_train_data *d,
                           const size_t *train, size_t n_train, const size_t *test,
                           size_t n_test, fitted *out, double *pred, tq_error *err)
{
    int F = d->n_features, W = F + d->codec_width;
    memset(out, 0, sizeof *out);
    out->mean = malloc((size_t)F * sizeof(double));
    out->std = malloc((size_t)F * sizeof(double));
    double *x = malloc(n_train * (size_t)W * sizeof *x);
    double *y = malloc(n_train * sizeof *y);
    double *xt = malloc((n_test ? n_test : 1) * (size_t)W * sizeof *xt);
    int rc = (!out->mean || !out->std || !x || !y || !xt) ? tq_fail(err, TQ_ENOMEM, "out of memory") : 0;
    if (!rc) {
        fit_scaler(d, train, n_train, out->mean, out->std);
        build_inputs(d, train, n_train, out->mean, out->std, x);
        build_inputs(d, test, n_test, out->mean, out->std, xt);
        /* targets scaled to mean 0 / std 1 for training; undone at export */
        double m = 0.0, v = 0.0;
        for (size_t r = 0; r < n_train; r++)
            m += d->target[train[r]];
        m /= (double)n_train;
        for (size_t r = 0; r < n_train; r++)
            v += (d->target[train[r]] - m) * (d->target[train[r]] - m);
        out->y_mean = m;
        out->y_std = sqrt(v / (double)n_train) > 0 ? sqrt(v / (double)n_train) : 1.0;
        for (size_t r = 0; r < n_train; r++)
            y[r] = (d->target[train[r]] - m) / out->y_std;
        if (tq_mlp_init(&out->mlp, W, s->hidden, s->n_hidden, s->seed))
            rc = tq_fail(err, TQ_ENOMEM, "out of memory creating the network");
    }
    tq_mlp_fit_settings fs = {.epochs = s->epochs, .batch_size = s->batch_size, .lr = s->lr,
                              .weight_decay = s->weight_decay, .seed = s->seed + 1};
    if (!rc && tq_mlp_fit(&out->mlp, x, y, n_train, &fs, NULL))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory training the network");
    if (!rc && n_test && tq_mlp_predict(&out->mlp, xt, n_test, pred))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    for (size_t r = 0; !rc && r < n_test; r++)
        pred[r] = pred[r] * out->y_std + out->y_mean;
    free(x);
    free(y);
    free(xt);
    if (rc)
        fitted_free(out);
    return rc;
}

typedef struct fold_result {
    char name[128];
    size_t n_train, n_test;
    double plcc, srocc, rmse;
} fold_result;

/* fold_of[r] = the fold row r is held out in. */
static int assign_folds(const tq_train_settings *s, const tq_train_data *d, int *fold_of,
                        int *n_folds, int *kfold, tq_error *err)
{
    if (d->group && d->n_groups >= 2) {
        for (size_t r = 0; r < d->n; r++)
            fold_of[r] = d->group[r];
        *n_folds = d->n_groups;
        *kfold = 0;
        return TQ_OK;
    }
    int k = s->folds < 2 ? 2 : s->folds;
    if ((size_t)k > d->n)
        k = (int)d->n;
    int64_t *perm = malloc(d->n * sizeof *perm);
    if (!perm)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, s->seed);
    tq_pcg64_permutation(&rng, perm, d->n);
    for (size_t i = 0; i < d->n; i++)
        fold_of[perm[i]] = (int)(i % (size_t)k);
    free(perm);
    *n_folds = k;
    *kfold = 1;
    return TQ_OK;
}

static int run_folds(const tq_train_settings *s, const tq_train_data *d, fold_result **out,
                     tq_train_result *res, tq_error *err)
{
    int *fold_of = malloc(d->n * sizeof *fold_of);
    size_t *train = malloc(d->n * sizeof *train), *test = malloc(d->n * sizeof *test);
    double *pred = malloc(d->n * sizeof *pred), *truth = malloc(d->n * sizeof *truth);
    int rc = (!fold_of || !train || !test || !pred || !truth)
                 ? tq_fail(err, TQ_ENOMEM, "out of memory") : 0;
    if (!rc)
        rc = assign_folds(s, d, fold_of, &res->n_folds, &res->kfold, err);
    fold_result *fr = rc ? NULL : calloc((size_t)res->n_folds, sizeof *fr);
    if (!rc && !fr)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    double sum = 0.0, sum2 = 0.0;
    int defined = 0;
    for (int f = 0; !rc && f < res->n_folds; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t r = 0; r < d->n; r++) {
            if (fold_of[r] == f)
                test[nte++] = r;
            else
                train[ntr++] = r;
        }
        fitted m;
        rc = fit_and_predict(s, d, train, ntr, test, nte, &m, pred, err);
        if (rc)
            break;
        fitted_free(&m);
        for (size_t r = 0; r < nte; r++)
            truth[r] = d->target[test[r]];
        fold_result *o = &fr[f];
        if (res->kfold)
            snprintf(o->name, sizeof o->name, "fold%d", f + 1);
        else
            snprintf(o->name, sizeof o->name, "%s", d->group_names[f]);
        o->n_train = ntr;
        o->n_test = nte;
        o->plcc = tq_plcc(pred, truth, nte);
        o->srocc = tq_srocc(pred, truth, nte);
        o->rmse = tq_rmse(pred, truth, nte);
        if (isfinite(o->plcc)) {
            sum += o->plcc;
            sum2 += o->plcc * o->plcc;
            defined++;
        }
        logf_(s, "fold %d/%d %s=%s: train %zu, test %zu, PLCC=%.6f SROCC=%.6f RMSE=%.6g", f + 1,
              res->n_folds, res->kfold ? "kfold" : "held-out source", o->name, ntr, nte,
              o->plcc, o->srocc, o->rmse);
    }
    if (!rc) {
        res->fold_plcc_mean = defined ? sum / defined : NAN;
        double var = defined ? sum2 / defined - res->fold_plcc_mean * res->fold_plcc_mean : NAN;
        res->fold_plcc_std = defined ? sqrt(var > 0 ? var : 0.0) : NAN;
        if (!defined)
            rc = tq_fail(err, TQ_EFORMAT, "no fold has a defined PLCC (every held-out set is "
                         "constant or has a single row)");
    }
    free(fold_of);
    free(train);
    free(test);
    free(pred);
    free(truth);
    if (rc)
        free(fr);
    else
        *out = fr;
    return rc;
}

/* "dir/name.onnx" -> "dir/name" + suffix; also the bare id "name". */
static char *with_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".onnx"))
        n -= 5;
    char *s = malloc(n + strlen(suffix) + 1);
    if (s) {
        memcpy(s, path, n);
        strcpy(s + n, suffix);
    }
    return s;
}

static cJSON *string_array(char *const *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static cJSON *number_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static const char *dataset_name(const tq_train_settings *s)
{
    const char *p = s->smoke ? "smoke" : s->csv_path ? s->csv_path : s->corpus_path;
    const char *slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

static cJSON *training_block(const tq_train_settings *s, const tq_train_data *d,
                             const tq_train_result *res)
{
    cJSON *t = cJSON_CreateObject();
    if (!t)
        return NULL;
    cJSON_AddNumberToObject(t, "batch_size", s->batch_size);
    cJSON_AddStringToObject(t, "dataset", dataset_name(s));
    cJSON_AddNumberToObject(t, "epochs", s->epochs);
    cJSON_AddNumberToObject(t, "fold_plcc_mean", res->fold_plcc_mean);
    cJSON_AddNumberToObject(t, "fold_plcc_std", res->fold_plcc_std);
    int hid[TQ_TRAIN_MAX_HIDDEN];
    for (int i = 0; i < s->n_hidden; i++)
        hid[i] = s->hidden[i];
    cJSON_AddItemToObject(t, "hidden", cJSON_CreateIntArray(hid, s->n_hidden));
    cJSON_AddNumberToObject(t, "in_sample_plcc", res->in_sample_plcc);
    cJSON_AddNumberToObject(t, "in_sample_rmse", res->in_sample_rmse);
    cJSON_AddNumberToObject(t, "in_sample_srocc", res->in_sample_srocc);
    cJSON_AddNumberToObject(t, "lr", s->lr);
    cJSON_AddNumberToObject(t, "n_folds", res->n_folds);
    cJSON_AddNumberToObject(t, "n_rows", (double)d->n);
    cJSON_AddNumberToObject(t, "seed", (double)s->seed);
    cJSON_AddBoolToObject(t, "smoke", s->smoke != 0);
    cJSON_AddStringToObject(t, "target", d->target_name);
    cJSON_AddStringToObject(t, "trainer", "tinyq train fr-regressor");
    cJSON_AddStringToObject(t, "validation", res->kfold ? "kfold" : "loso");
    cJSON_AddNumberToObject(t, "weight_decay", s->weight_decay);
    return t;
}

/* The sidecar in the seed sidecars' format (keys sorted like theirs). */
static int write_sidecar(const char *path, const char *id, const char *onnx_name,
                         const char *sha, const tq_train_settings *s, const tq_train_data *d,
                         const fitted *f, const tq_train_result *res, tq_error *err)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    cJSON_AddBoolToObject(o, "codec_aware", d->codec_width > 0);
    if (d->codec_width) {
        cJSON_AddItemToObject(o, "codec_block_layout",
                              string_array((char *const *)tq_codec_layout_names, TQ_CODEC_WIDTH));
        cJSON_AddItemToObject(o, "encoder_vocab",
                              string_array((char *const *)tq_codec_vocab, TQ_CODEC_VOCAB));
        cJSON_AddNumberToObject(o, "encoder_vocab_version", 2);
    }
    cJSON_AddItemToObject(o, "feature_mean", number_array(f->mean, d->n_features));
    cJSON_AddItemToObject(o, "feature_order", string_array(d->feature_names, d->n_features));
    cJSON_AddItemToObject(o, "feature_std", number_array(f->std, d->n_features));
    cJSON_AddStringToObject(o, "id", id);
    static char *const in2[] = {"features", "codec"};
    cJSON_AddItemToObject(o, "input_names", string_array(in2, d->codec_width ? 2 : 1));
    cJSON_AddStringToObject(o, "kind", "fr");
    char notes[512];
    snprintf(notes, sizeof notes,
             "FR regressor trained by tinyq on %s (%zu rows, %d features%s); %s PLCC %.4f +- "
             "%.4f over %d folds. Scaler in this sidecar, not in the graph.",
             dataset_name(s), d->n, d->n_features, d->codec_width ? " + 14-wide codec block" : "",
             res->kfold ? "k-fold" : "leave-one-source-out", res->fold_plcc_mean,
             res->fold_plcc_std, res->n_folds);
    cJSON_AddStringToObject(o, "notes", notes);
    cJSON_AddStringToObject(o, "onnx", onnx_name);
    cJSON_AddNumberToObject(o, "opset", 17);
    static char *const out1[] = {"score"};
    cJSON_AddItemToObject(o, "output_names", string_array(out1, 1));
    cJSON_AddStringToObject(o, "sha256", sha);
    cJSON_AddItemToObject(o, "training", training_block(s, d, res));
    char *text = NULL;
    size_t len = 0;
    int rc = tq_json_format(o, &text, &len) ? tq_fail(err, TQ_ENOMEM, "out of memory") : 0;
    cJSON_Delete(o);
    if (!rc)
        rc = tq_write_file_atomic(path, text, len, err);
    free(text);
    return rc;
}

static int write_report(const tq_train_settings *s, const tq_train_data *d,
                        const fold_result *folds, const tq_train_result *res,
                        const char *sidecar, tq_error *err)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    cJSON_AddStringToObject(o, "command", "train fr-regressor");
    cJSON_AddStringToObject(o, "model", s->output_path);
    cJSON_AddStringToObject(o, "sidecar", sidecar);
    cJSON_AddStringToObject(o, "dataset", dataset_name(s));
    cJSON_AddBoolToObject(o, "codec_aware", d->codec_width > 0);
    cJSON_AddBoolToObject(o, "smoke", s->smoke != 0);
    cJSON_AddNumberToObject(o, "n_rows", (double)d->n);
    cJSON_AddItemToObject(o, "features", string_array(d->feature_names, d->n_features));
    cJSON_AddNumberToObject(o, "codec_width", d->codec_width);
    cJSON *v = cJSON_AddObjectToObject(o, "validation");
    cJSON_AddStringToObject(v, "scheme", res->kfold ? "kfold" : "loso");
    cJSON_AddNumberToObject(v, "n_folds", res->n_folds);
    cJSON *fa = cJSON_AddArrayToObject(v, "folds");
    for (int f = 0; f < res->n_folds; f++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, res->kfold ? "fold" : "held_out_source", folds[f].name);
        cJSON_AddNumberToObject(e, "n_train", (double)folds[f].n_train);
        cJSON_AddNumberToObject(e, "n_test", (double)folds[f].n_test);
        cJSON_AddNumberToObject(e, "plcc", folds[f].plcc);
        cJSON_AddNumberToObject(e, "srocc", folds[f].srocc);
        cJSON_AddNumberToObject(e, "rmse", folds[f].rmse);
        cJSON_AddItemToArray(fa, e);
    }
    cJSON_AddNumberToObject(v, "plcc_mean", res->fold_plcc_mean);
    cJSON_AddNumberToObject(v, "plcc_std", res->fold_plcc_std);
    cJSON *is = cJSON_AddObjectToObject(o, "in_sample");
    cJSON_AddNumberToObject(is, "plcc", res->in_sample_plcc);
    cJSON_AddNumberToObject(is, "srocc", res->in_sample_srocc);
    cJSON_AddNumberToObject(is, "rmse", res->in_sample_rmse);
    cJSON_AddItemToObject(o, "training", training_block(s, d, res));
    cJSON_AddNumberToObject(o, "ship_plcc", s->ship_plcc);
    cJSON_AddBoolToObject(o, "ships", res->ships != 0);
    if (s->registry_path)
        cJSON_AddStringToObject(o, "registry", s->registry_path);
    else
        cJSON_AddNullToObject(o, "registry");
    cJSON_AddBoolToObject(o, "registered", res->registered != 0);
    cJSON_AddStringToObject(o, "registry_note", res->note);
    cJSON_AddItemToObject(o, "run_provenance", tq_run_provenance(s->command_line));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return tq_fail(err, TQ_ENOMEM, "out of memory writing the report");
    int rc = tq_write_file_atomic(s->report_path, text, strlen(text), err);
    free(text);
    return rc;
}

static int check_settings(const tq_train_settings *s, tq_error *err)
{
    if (!s->output_path || !s->output_path[0])
        return tq_fail(err, TQ_EINVAL, "train: no output path (-o MODEL.onnx)");
    size_t n = strlen(s->output_path);
    if (n <= 5 || strcmp(s->output_path + n - 5, ".onnx"))
        return tq_fail(err, TQ_EINVAL, "%s: the output must end in .onnx (the sidecar is "
                       "<basename>.json beside it)", s->output_path);
    if (!s->smoke && !s->corpus_path && !s->csv_path)
        return tq_fail(err, TQ_EINVAL, "train: no data (--corpus C.jsonl, --csv T.csv or --smoke)");
    if (s->csv_path && s->codec_aware)
        return tq_fail(err, TQ_EINVAL, "%s: --codec-aware needs a corpus with encoder, preset "
                       "and crf (JSONL), not a CSV table", s->csv_path);
    if (s->epochs < 1 || s->batch_size < 1 || !(s->lr > 0) || !(s->weight_decay >= 0) ||
        s->n_hidden < 0 || s->n_hidden > TQ_TRAIN_MAX_HIDDEN || !(s->ship_plcc <= 1.0))
        return tq_fail(err, TQ_EINVAL, "train: bad settings (epochs, batch size, lr, weight "
                       "decay, hidden layers or ship PLCC out of range)");
    for (int i = 0; i < s->n_hidden; i++)
        if (s->hidden[i] < 1 || s->hidden[i] > 4096)
            return tq_fail(err, TQ_EINVAL, "train: hidden width %d outside 1..4096", s->hidden[i]);
    return TQ_OK;
}

int tq_train_fr_regressor(const tq_train_settings *s, tq_train_result *res, tq_error *err)
{
    memset(res, 0, sizeof *res);
    int rc = check_settings(s, err);
    if (rc)
        return rc;
    tq_train_data d;
    memset(&d, 0, sizeof d);
    if (s->smoke)
        rc = tq_corpus_smoke(s->codec_aware, &d, err);
    else if (s->csv_path)
        rc = tq_corpus_load_csv(s->csv_path, s->csv_target, s->csv_group, &d, err);
    else
        rc = tq_corpus_load_jsonl(s->corpus_path, s->codec_aware, &d, err);
    if (rc)
        return rc;
    res->n_rows = (int64_t)d.n;
    res->n_features = d.n_features;
    res->codec_width = d.codec_width;
    logf_(s, "data: %s, %zu rows, %d features%s, target %s", dataset_name(s), d.n,
          d.n_features, d.codec_width ? " + codec block (14)" : "", d.target_name);

    fold_result *folds = NULL;
    rc = run_folds(s, &d, &folds, res, err);

    /* the shipped weights: every row */
    size_t *all = rc ? NULL : malloc(d.n * sizeof *all);
    double *pred = rc ? NULL : malloc(d.n * sizeof *pred);
    fitted fin;
    memset(&fin, 0, sizeof fin);
    if (!rc && (!all || !pred))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    for (size_t r = 0; !rc && r < d.n; r++)
        all[r] = r;
    if (!rc)
        rc = fit_and_predict(s, &d, all, d.n, all, d.n, &fin, pred, err);
    if (!rc) {
        res->in_sample_plcc = tq_plcc(pred, d.target, d.n);
        res->in_sample_srocc = tq_srocc(pred, d.target, d.n);
        res->in_sample_rmse = tq_rmse(pred, d.target, d.n);
        res->ships = res->fold_plcc_mean >= s->ship_plcc;
        logf_(s, "%s PLCC %.6f +- %.6f over %d folds (ship threshold %.4f: %s); in-sample "
              "PLCC %.6f SROCC %.6f RMSE %.6g",
              res->kfold ? "k-fold" : "LOSO", res->fold_plcc_mean, res->fold_plcc_std,
              res->n_folds, s->ship_plcc, res->ships ? "clears it" : "does NOT clear it",
              res->in_sample_plcc, res->in_sample_srocc, res->in_sample_rmse);
    }

    /* export: model, then sidecar (the model is removed again if the sidecar fails) */
    char *sidecar = with_suffix(s->output_path, ".json");
    const char *base = strrchr(s->output_path, '/');
    base = base ? base + 1 : s->output_path;
    char *id = with_suffix(base, "");
    tq_model *m = NULL;
    if (!rc && (!sidecar || !id))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!rc) {
        char doc[256];
        snprintf(doc, sizeof doc, "tinyq FR regressor: %d features%s -> score; inputs are "
                 "scaled by the sidecar %s", d.n_features, d.codec_width ? " + codec block" : "",
                 id);
        rc = tq_train_export_model(&fin.mlp, d.n_features, d.codec_width, fin.y_mean,
                                   fin.y_std, doc, &m, err);
    }
    if (!rc)
        rc = tq_model_save(m, s->output_path, err);
    char sha[TQ_SHA256_HEX_LEN + 1] = "";
    int model_written = !rc;
    if (!rc)
        rc = tq_sha256_file(s->output_path, sha, err);
    if (!rc)
        rc = write_sidecar(sidecar, id, base, sha, s, &d, &fin, res, err);
    if (rc && model_written)
        unlink(s->output_path);
    if (!rc)
        logf_(s, "wrote %s and %s (sha256 %s)", s->output_path, sidecar, sha);

    if (!rc && s->registry_path) {
        if (s->smoke || res->ships) {
            rc = tq_registry_register_model(s->registry_path, id, "fr", s->output_path,
                                            s->smoke, NULL, err);
            if (!rc) {
                res->registered = 1;
                snprintf(res->note, sizeof res->note, "registered as '%s'%s", id,
                         s->smoke ? " (smoke: true)" : "");
            }
        } else {
            snprintf(res->note, sizeof res->note,
                     "not registered: %s mean PLCC %.6f is below --ship-plcc %.4f",
                     res->kfold ? "k-fold" : "LOSO", res->fold_plcc_mean, s->ship_plcc);
        }
        if (!rc)
            logf_(s, "registry %s: %s", s->registry_path, res->note);
    } else if (!rc) {
        snprintf(res->note, sizeof res->note, "no --registry given");
    }
    if (!rc && s->report_path)
        rc = write_report(s, &d, folds, res, sidecar, err);

    tq_model_free(&m);
    free(sidecar);
    free(id);
    free(all);
    free(pred);
    free(folds);
    fitted_free(&fin);
    tq_train_data_free(&d);
    return rc;
}
