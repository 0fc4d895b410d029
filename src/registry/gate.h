/* The accuracy gate (SPEC §4): fp32 vs int8 on the deterministic synthetic
 * set, or on a real evaluation set with a task metric. */
#ifndef TQ_REGISTRY_GATE_H
#define TQ_REGISTRY_GATE_H

#include <stddef.h>

#include "graph/ir.h"
#include "io/npz.h"

/* Run `m` on the synthetic set (default_rng(0), 16 samples, one at a time)
 * and return the first output of all runs, flattened, as doubles. */
int tq_gate_synthetic_outputs(const tq_model *m, double **out, size_t *n, tq_error *err);

/* Run `m` one sample (row of axis 0) at a time over the set (inputs matched by
 * name) and return the first output, flattened, as doubles; *cols receives the
 * first output's width per sample. */
int tq_gate_set_outputs(const tq_model *m, const tq_tensor_set *set, const char *source,
                        double **out, size_t *n, size_t *cols, tq_error *err);

typedef struct tq_gate_result {
    double plcc, drop, budget;
    int pass;
    size_t n;
} tq_gate_result;

/* PLCC of the two output series; pass when drop = 1 - PLCC <= budget (a NaN
 * PLCC -- constant outputs -- fails). */
int tq_gate_compare(const double *fp32, size_t n_fp32, const double *int8, size_t n_int8,
                    double budget, const char *what, tq_gate_result *r, tq_error *err);

/* The one-line verdict, exactly as SPEC §4 prints it (no newline). */
void tq_gate_format(char *buf, size_t cap, const char *name, const char *mode,
                    const tq_gate_result *r);

/* Task metric of one model's outputs against a labelled set: top-1 accuracy
 * for classifiers (outputs [N, K>1] and a `label` key), PLCC / SROCC / RMSE
 * against a `target` key for regressors. Writes a one-line summary. */
int tq_task_metric(const double *out, size_t n, size_t cols, const tq_tensor_set *set,
                   const char *source, char *line, size_t cap, double metrics[3], int *is_cls,
                   tq_error *err);

/* Classifier counts shared by the task metric and `tinyq eval`: the argmax
 * of each row of out [rows, cols] against labels[rows]; per-class hits and
 * totals (arrays of cols, zeroed by the caller; either may be NULL) and all
 * hits. A label that is not a class index in [0, cols) fails naming source. */
int tq_class_counts(const double *out, size_t rows, size_t cols, const double *labels,
                    const char *source, size_t *hits, size_t *totals, size_t *hits_all,
                    tq_error *err);

#endif

/* The int8 model's mode as its graph shows it: "dynamic" (DynamicQuantizeLinear),
 * "static" (QDQ / QLinear ops), or "fp32" when it has no integer ops. */
const char *tq_model_quant_mode_guess(const tq_model *m);

/* The gate pair of registry entry i through the trust root: fp32 file checked
 * against sha256, int8 sibling against int8_sha256. Paths are malloc'ed. */
typedef struct tq_registry tq_registry;
int tq_registry_load_pair(const tq_registry *reg, int i, tq_model **fp32, char **fp32_path,
                          tq_model **int8, char **int8_path, tq_error *err);
