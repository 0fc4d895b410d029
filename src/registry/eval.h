/* `tinyq eval`: a model's task metric on a labelled set. Running reuses the
 * gate's set runner (one sample at a time) or runs fixed-size batches; the
 * metrics are the gate's (tq_task_metric, tq_class_counts in gate.h). */
#ifndef TQ_REGISTRY_EVAL_H
#define TQ_REGISTRY_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "graph/ir.h"
#include "io/npz.h"

/* First output of `m` over the set, flattened to doubles, *cols per sample.
 * batch <= 1: one sample at a time (tq_gate_set_outputs, as `drop --data`);
 * otherwise consecutive batches of `batch` samples (the last may be shorter).
 * Dynamic-quantised models compute activation scales per run, so the two can
 * differ slightly for them; fp32 and static models agree up to summation order. */
int tq_eval_outputs(const tq_model *m, const tq_tensor_set *set, const char *source,
                    int64_t batch, double **out, size_t *n, size_t *cols, tq_error *err);

typedef struct tq_eval_result {
    int is_classifier;
    size_t n_samples, n_classes;
    double top1;          /* classifier */
    size_t correct;
    size_t *class_hits;   /* n_classes each, malloc'ed */
    size_t *class_totals;
    double plcc, srocc, rmse; /* regressor */
    char line[256];       /* the gate's one-line summary of the metric */
} tq_eval_result;

/* Task metric of outputs (n values, cols per sample) against the set's
 * `label` (classifier: cols > 1) or `target` key. */
int tq_eval_metrics(const double *out, size_t n, size_t cols, const tq_tensor_set *set,
                    const char *source, tq_eval_result *r, tq_error *err);
void tq_eval_result_free(tq_eval_result *r);

#endif
