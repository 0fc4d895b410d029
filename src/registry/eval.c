/* Task metric of one model on a labelled set: batched or per-sample runs,
 * then the accuracy gate's own metric code plus per-class accuracy. */
#include "registry/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/values.h"
#include "registry/gate.h"
#include "runtime/run_set.h"
#include "runtime/synthetic.h"
#include "util/error.h"

#define MAX_IO 16

/* Rows of the set entries that feed the model (all must agree). */
static int input_rows(const tq_model *m, const tq_tensor_set *set, const char *source,
                      int64_t *rows, tq_error *err)
{
    const tq_value_info *infos[MAX_IO];
    int n_in = tq_model_runtime_inputs(m, infos, MAX_IO);
    if (n_in > MAX_IO)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: more than %d inputs", m->path, MAX_IO);
    *rows = -1;
    for (int i = 0; i < n_in; i++) {
        const tq_tensor *t = tq_tensor_set_find(set, infos[i]->name);
        if (!t)
            return tq_fail(err, TQ_EFORMAT, "%s: no entry '%s' for model input '%s'", source,
                           infos[i]->name, infos[i]->name);
        if (t->rank < 1)
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s' is a scalar; samples are stacked "
                           "on axis 0", source, t->name);
        if (*rows >= 0 && t->dims[0] != *rows)
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s' has %lld samples, another input %lld",
                           source, t->name, (long long)t->dims[0], (long long)*rows);
        *rows = t->dims[0];
    }
    if (*rows <= 0)
        return tq_fail(err, TQ_EFORMAT, "%s: zero samples", source);
    return TQ_OK;
}

static int run_batches(const tq_model *m, const tq_tensor_set *set, const char *source,
                       int64_t batch, double **out, size_t *n, size_t *cols, tq_error *err)
{
    int64_t rows = 0;
    int rc = input_rows(m, set, source, &rows, err);
    if (rc)
        return rc;
    tq_session *s = NULL;
    if ((rc = tq_session_create(&s, m, err)))
        return rc;
    /* views of one batch: same tensors, axis 0 cut to the batch (not owned) */
    tq_tensor *views = calloc((size_t)set->n + 1, sizeof *views);
    size_t cap = 0;
    if (!views)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    for (int64_t r0 = 0; !rc && r0 < rows; r0 += batch) {
        int64_t k = rows - r0 < batch ? rows - r0 : batch;
        tq_tensor_set slice = {views, 0};
        for (int i = 0; i < set->n; i++) {
            const tq_tensor *t = &set->t[i];
            if (t->rank < 1 || t->dims[0] != rows)
                continue; /* not a sample stack (no model input either, checked above) */
            size_t row_bytes = t->nbytes / (size_t)rows;
            views[slice.n] = *t;
            views[slice.n].dims[0] = k;
            views[slice.n].nbytes = row_bytes * (size_t)k;
            views[slice.n].data = (char *)t->data + row_bytes * (size_t)r0;
            slice.n++;
        }
        char where[64];
        snprintf(where, sizeof where, "samples %lld..%lld", (long long)r0, (long long)(r0 + k - 1));
        tq_tensor_set res = {0};
        rc = tq_run_set(s, m, &slice, source, 0, &res, err);
        if (rc)
            tq_error_prefix(err, "%s: ", where);
        else if (res.n < 1 || res.t[0].dtype != TQ_FLOAT)
            rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: the first output is not float32", m->path);
        else if (res.t[0].rank < 1 || res.t[0].dims[0] != k)
            rc = tq_fail(err, TQ_EFORMAT, "%s: first output has no batch axis of %lld; use "
                         "--per-sample", m->path, (long long)k);
        if (!rc) {
            int64_t numel = tq_tensor_numel(&res.t[0]);
            if (*n + (size_t)numel > cap) {
                size_t c = (*n + (size_t)numel) * 2;
                double *p = realloc(*out, c * sizeof *p);
                if (!p)
                    rc = tq_fail(err, TQ_ENOMEM, "out of memory");
                else {
                    *out = p;
                    cap = c;
                }
            }
            const float *f = res.t[0].data;
            for (int64_t i = 0; !rc && i < numel; i++)
                (*out)[(*n)++] = f[i];
            *cols = (size_t)(numel / k);
        }
        tq_tensor_set_free(&res);
    }
    free(views);
    tq_session_free(&s);
    return rc;
}

int tq_eval_outputs(const tq_model *m, const tq_tensor_set *set, const char *source,
                    int64_t batch, double **out, size_t *n, size_t *cols, tq_error *err)
{
    if (batch <= 1)
        return tq_gate_set_outputs(m, set, source, out, n, cols, err);
    *out = NULL;
    *n = *cols = 0;
    int rc = run_batches(m, set, source, batch, out, n, cols, err);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = *cols = 0;
    }
    return rc;
}

int tq_eval_metrics(const double *out, size_t n, size_t cols, const tq_tensor_set *set,
                    const char *source, tq_eval_result *r, tq_error *err)
{
    memset(r, 0, sizeof *r);
    double metrics[3];
    int rc = tq_task_metric(out, n, cols, set, source, r->line, sizeof r->line, metrics,
                            &r->is_classifier, err);
    if (rc)
        return rc;
    if (!r->is_classifier) {
        r->n_samples = n;
        r->plcc = metrics[0];
        r->srocc = metrics[1];
        r->rmse = metrics[2];
        return TQ_OK;
    }
    r->n_samples = n / cols;
    r->n_classes = cols;
    r->top1 = metrics[0];
    double *labels = NULL;
    size_t nl = 0;
    rc = tq_tensor_as_doubles(tq_tensor_set_find(set, "label"), source, &labels, &nl, err);
    if (!rc && (!(r->class_hits = calloc(cols, sizeof *r->class_hits)) ||
                !(r->class_totals = calloc(cols, sizeof *r->class_totals))))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!rc) /* tq_task_metric already checked nl == n_samples */
        rc = tq_class_counts(out, r->n_samples, cols, labels, source, r->class_hits,
                             r->class_totals, &r->correct, err);
    free(labels);
    if (rc)
        tq_eval_result_free(r);
    return rc;
}

void tq_eval_result_free(tq_eval_result *r)
{
    free(r->class_hits);
    free(r->class_totals);
    r->class_hits = r->class_totals = NULL;
}
