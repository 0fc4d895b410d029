/* Accuracy gate: the system we replace runs the 16 synthetic samples ONE AT A
 * TIME (batching changes the dynamic-quantisation scales and so the numbers),
 * concatenates the first output of every run and takes Pearson's correlation
 * in double. */
#include "registry/gate.h"

#include "data/values.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/run_set.h"
#include "runtime/synthetic.h"
#include "util/error.h"
#include "registry/registry_internal.h"
#include "util/metrics.h"

#define MAX_IO 16

static int append_first_output(const tq_tensor_view *o, double **out, size_t *n, size_t *cap,
                               tq_error *err)
{
    if (o->dtype != TQ_FLOAT)
        return tq_fail(err, TQ_EUNSUPPORTED, "output '%s' is %s; the gate compares float32",
                       o->name, tq_dtype_name(o->dtype));
    int64_t k = tq_shape_numel(o->dims, o->rank);
    if (k < 0)
        return tq_fail(err, TQ_EFORMAT, "output '%s' has an invalid shape", o->name);
    if (*n + (size_t)k > *cap) {
        size_t c = (*cap ? *cap * 2 : 64) + (size_t)k;
        double *p = realloc(*out, c * sizeof *p);
        if (!p)
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        *out = p;
        *cap = c;
    }
    const float *f = o->data;
    for (int64_t i = 0; i < k; i++)
        (*out)[(*n)++] = f[i];
    return TQ_OK;
}

int tq_gate_synthetic_outputs(const tq_model *m, double **out, size_t *n, tq_error *err)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    tq_session *s = NULL;
    int rc = tq_session_create(&s, m, err);
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, 0);
    int n_out = m->graph.n_outputs;
    if (!rc && (n_out < 1 || n_out > MAX_IO))
        rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: %d outputs", m->path, n_out);
    for (int r = 0; !rc && r < TQ_SYNTHETIC_SAMPLES; r++) {
        tq_tensor sample[MAX_IO];
        int k = 0;
        rc = tq_synthetic_sample(m, &rng, sample, MAX_IO, &k, err);
        if (rc)
            break;
        tq_tensor_view in[MAX_IO], outs[MAX_IO];
        for (int i = 0; i < k; i++) {
            in[i] = (tq_tensor_view){.name = sample[i].name, .dtype = sample[i].dtype,
                                     .rank = sample[i].rank, .data = sample[i].data};
            memcpy(in[i].dims, sample[i].dims, sizeof in[i].dims);
        }
        rc = tq_session_run(s, in, k, outs, n_out, err);
        if (rc)
            tq_error_prefix(err, "%s: synthetic sample %d: ", m->path, r);
        else
            rc = append_first_output(&outs[0], out, n, &cap, err);
        for (int i = 0; i < k; i++)
            tq_tensor_clear(&sample[i]);
    }
    tq_session_free(&s);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int tq_gate_set_outputs(const tq_model *m, const tq_tensor_set *set, const char *source,
                        double **out, size_t *n, size_t *cols, tq_error *err)
{
    *out = NULL;
    *n = 0;
    *cols = 0;
    tq_session *s = NULL;
    tq_tensor_set res = {0};
    int rc = tq_session_create(&s, m, err);
    if (!rc)
        rc = tq_run_set(s, m, set, source, 1, &res, err);
    if (!rc && (res.n < 1 || res.t[0].dtype != TQ_FLOAT))
        rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: the first output is not float32", m->path);
    if (!rc) {
        const tq_tensor *t = &res.t[0];
        int64_t k = tq_tensor_numel(t);
        int64_t rows = t->rank ? t->dims[0] : 1;
        *out = malloc(((size_t)k + 1) * sizeof **out);
        if (!*out)
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        for (int64_t i = 0; !rc && i < k; i++)
            (*out)[i] = ((const float *)t->data)[i];
        *n = (size_t)k;
        *cols = rows > 0 ? (size_t)(k / rows) : 0;
    }
    tq_tensor_set_free(&res);
    tq_session_free(&s);
    return rc;
}

int tq_gate_compare(const double *a, size_t na, const double *b, size_t nb, double budget,
                    const char *what, tq_gate_result *r, tq_error *err)
{
    memset(r, 0, sizeof *r);
    if (na != nb)
        return tq_fail(err, TQ_EFORMAT, "%s: fp32 gave %zu output values, int8 gave %zu", what,
                       na, nb);
    r->n = na;
    r->budget = budget;
    r->plcc = tq_plcc(a, b, na);
    r->drop = 1.0 - r->plcc;
    r->pass = !isnan(r->plcc) && r->drop <= budget;
    return TQ_OK;
}

void tq_gate_format(char *buf, size_t cap, const char *name, const char *mode,
                    const tq_gate_result *r)
{
    snprintf(buf, cap, "[%s] %s mode=%s PLCC=%.6f drop=%.6f budget=%.4f", r->pass ? "PASS" : "FAIL",
             name, mode, r->plcc, r->drop, r->budget);
}

int tq_class_counts(const double *out, size_t rows, size_t cols, const double *labels,
                    const char *source, size_t *hits, size_t *totals, size_t *hits_all,
                    tq_error *err)
{
    *hits_all = 0;
    for (size_t r = 0; r < rows; r++) {
        double l = labels[r];
        if (!(l >= 0 && l < (double)cols && l == (double)(size_t)l))
            return tq_fail(err, TQ_EFORMAT,
                           "%s: 'label' of sample %zu is %g, not a class index in [0, %zu)",
                           source, r, l, cols);
        size_t best = 0;
        for (size_t c = 1; c < cols; c++)
            if (out[r * cols + c] > out[r * cols + best])
                best = c;
        size_t want = (size_t)l;
        *hits_all += best == want;
        if (hits)
            hits[want] += best == want;
        if (totals)
            totals[want]++;
    }
    return TQ_OK;
}

int tq_task_metric(const double *out, size_t n, size_t cols, const tq_tensor_set *set,
                   const char *source, char *line, size_t cap, double metrics[3], int *is_cls,
                   tq_error *err)
{
    const tq_tensor *label = tq_tensor_set_find(set, "label");
    const tq_tensor *target = tq_tensor_set_find(set, "target");
    double *v = NULL;
    size_t nv = 0;
    int rc;
    *is_cls = cols > 1 && label;
    if (*is_cls) {
        size_t rows = n / cols;
        if ((rc = tq_tensor_as_doubles(label, source, &v, &nv, err)))
            return rc;
        if (nv != rows) {
            free(v);
            return tq_fail(err, TQ_EFORMAT, "%s: 'label' has %zu values for %zu samples", source,
                           nv, rows);
        }
        size_t hits = 0;
        rc = tq_class_counts(out, rows, cols, v, source, NULL, NULL, &hits, err);
        if (rc) {
            free(v);
            return rc;
        }
        metrics[0] = rows ? (double)hits / (double)rows : NAN;
        metrics[1] = metrics[2] = NAN;
        snprintf(line, cap, "top1=%.6f (%zu/%zu)", metrics[0], hits, rows);
        free(v);
        return TQ_OK;
    }
    if (!target)
        return tq_fail(err, TQ_EFORMAT, "%s: no 'target' entry (regressors) %s", source,
                       cols > 1 ? "and no 'label' entry (classifiers)" : "to score against");
    if ((rc = tq_tensor_as_doubles(target, source, &v, &nv, err)))
        return rc;
    if (nv != n) {
        free(v);
        return tq_fail(err, TQ_EFORMAT, "%s: 'target' has %zu values, the model gave %zu",
                       source, nv, n);
    }
    metrics[0] = tq_plcc(out, v, n);
    metrics[1] = tq_srocc(out, v, n);
    metrics[2] = tq_rmse(out, v, n);
    snprintf(line, cap, "PLCC=%.6f SROCC=%.6f RMSE=%.6f", metrics[0], metrics[1], metrics[2]);
    free(v);
    return TQ_OK;
}

const char *tq_model_quant_mode_guess(const tq_model *m)
{
    int qdq = 0;
    for (int i = 0; i < m->graph.n_nodes; i++) {
        const char *op = m->graph.nodes[i].op_type;
        if (!strcmp(op, "DynamicQuantizeLinear"))
            return "dynamic";
        if (!strcmp(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear") ||
            !strcmp(op, "QLinearConv") || !strcmp(op, "QLinearMatMul"))
            qdq = 1;
        if (!strcmp(op, "MatMulInteger") || !strcmp(op, "ConvInteger"))
            return "dynamic";
    }
    return qdq ? "static" : "fp32";
}

int tq_registry_load_pair(const tq_registry *reg, int i, tq_model **fp32, char **fp32_path,
                          tq_model **int8, char **int8_path, tq_error *err)
{
    *fp32 = *int8 = NULL;
    const tq_registry_entry *e = &reg->entries[i];
    *fp32_path = tq_registry_entry_file(reg, e, ".onnx");
    *int8_path = tq_registry_entry_file(reg, e, ".int8.onnx");
    if (!*fp32_path || !*int8_path)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    int rc = tq_trusted_model_load(*fp32_path, e->sha256, "sha256", reg->path, e->id, fp32, err);
    if (!rc)
        rc = tq_trusted_model_load(*int8_path, e->int8_sha256, "int8_sha256", reg->path, e->id,
                                   int8, err);
    if (rc) {
        tq_model_free(fp32);
        tq_model_free(int8);
    }
    return rc;
}
