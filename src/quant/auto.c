/* --mode auto: the user's rule of thumb (SPEC §2) as a command. Tries the
 * modes cheapest first (dynamic: no data; static: a calibration set; qat: a
 * training run), measures each with the accuracy gate's own functions
 * (src/registry/gate.h: synthetic-set PLCC, and the task metric on --data),
 * keeps the first that passes the budget, writes it, and records every trial
 * and the reason for the choice in the report. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npz.h"
#include "quant/auto.h"
#include "registry/gate.h"
#include "util/error.h"
#include "util/fileio.h"

static const char *mode_name(tq_quant_mode m)
{
    return m == TQ_QUANT_DYNAMIC ? "dynamic" : m == TQ_QUANT_STATIC ? "static"
                                           : m == TQ_QUANT_QAT      ? "qat"
                                                                    : "fp32";
}

/* fp32 references computed once: synthetic outputs and task metric. */
typedef struct reference {
    double *syn;
    size_t n_syn;
    tq_tensor_set data;
    int has_data;
    double task;
} reference;

static int task_metric(const tq_model *m, const tq_tensor_set *set, const char *path, double *v,
                       tq_error *err)
{
    double *out = NULL;
    size_t n = 0, cols = 0;
    char line[256];
    double metrics[3];
    int is_cls = 0;
    int rc = tq_gate_set_outputs(m, set, path, &out, &n, &cols, err);
    if (!rc)
        rc = tq_task_metric(out, n, cols, set, path, line, sizeof(line), metrics, &is_cls, err);
    free(out);
    if (!rc)
        *v = metrics[0]; /* top-1 for classifiers, PLCC vs target for regressors */
    return rc;
}

/* Quantise one mode and measure it. A mode that cannot run is recorded as
 * not passing (why says what failed) and the search goes on. */
static int try_mode(const char *model_path, tq_quant_settings *s, tq_auto_settings *a,
                    const reference *ref, tq_auto_trial *t, tq_model **kept,
                    tq_range_table *ranges, tq_quant_summary *sum, tq_error *fatal)
{
    tq_error err = {0};
    tq_model *m = NULL;
    const char *cal = s->mode == TQ_QUANT_STATIC ? a->calibration : NULL;
    t->tried = 1;
    int rc = tq_model_load(&m, model_path, &err);
    if (!rc) {
        sum->fp32_bytes = (uint64_t)m->file_bytes + (uint64_t)m->external_bytes;
        rc = tq_quantize_model_ranges(m, s, cal, sum, ranges, &err);
    }
    double *syn = NULL;
    size_t n_syn = 0;
    tq_gate_result gr = {0};
    if (!rc)
        rc = tq_gate_synthetic_outputs(m, &syn, &n_syn, &err);
    if (!rc)
        rc = tq_gate_compare(ref->syn, ref->n_syn, syn, n_syn, a->budget, mode_name(s->mode),
                             &gr, &err);
    free(syn);
    if (!rc && ref->has_data) {
        rc = task_metric(m, &ref->data, a->data, &t->task_int8, &err);
        t->has_task = !rc;
        t->task_fp32 = ref->task;
        t->task_drop = ref->task - t->task_int8;
    }
    if (rc == TQ_ENOMEM) {
        *fatal = err;
        tq_model_free(&m);
        return rc;
    }
    if (rc) {
        t->pass = 0;
        snprintf(t->why, sizeof(t->why), "failed: %.240s", err.msg);
        tq_model_free(&m);
        return TQ_OK;
    }
    t->plcc = gr.plcc;
    t->drop = gr.drop;
    bool task_ok = !t->has_task || t->task_drop <= a->budget;
    t->pass = gr.pass && task_ok;
    if (t->pass)
        snprintf(t->why, sizeof(t->why), "gate drop %.6f <= budget %g%s", gr.drop, a->budget,
                 t->has_task ? " and task-metric drop within budget" : "");
    else if (!gr.pass)
        snprintf(t->why, sizeof(t->why), "gate drop %.6f > budget %g", gr.drop, a->budget);
    else
        snprintf(t->why, sizeof(t->why), "task-metric drop %.6f > budget %g", t->task_drop,
                 a->budget);
    if (t->pass)
        *kept = m;
    else
        tq_model_free(&m);
    return TQ_OK;
}

static cJSON *auto_json(const tq_auto_settings *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "budget", a->budget);
    cJSON_AddStringToObject(o, "gate_metric", "1 - PLCC(fp32, int8) on the SPEC 4 synthetic set");
    if (a->data)
        cJSON_AddStringToObject(o, "data", a->data);
    cJSON_AddStringToObject(o, "chosen", a->chosen == TQ_QUANT_FP32 ? "none" : mode_name(a->chosen));
    cJSON *arr = cJSON_AddArrayToObject(o, "trials");
    for (int i = 0; arr && i < 3; i++) {
        const tq_auto_trial *t = &a->trials[i];
        cJSON *j = cJSON_CreateObject();
        if (!j)
            break;
        cJSON_AddStringToObject(j, "mode", mode_name(t->mode));
        cJSON_AddBoolToObject(j, "tried", t->tried);
        if (t->tried && strncmp(t->why, "failed", 6) != 0) {
            cJSON_AddNumberToObject(j, "plcc", t->plcc);
            cJSON_AddNumberToObject(j, "drop", t->drop);
            if (t->has_task) {
                cJSON_AddNumberToObject(j, "task_fp32", t->task_fp32);
                cJSON_AddNumberToObject(j, "task_int8", t->task_int8);
                cJSON_AddNumberToObject(j, "task_drop", t->task_drop);
            }
        }
        cJSON_AddBoolToObject(j, "pass", t->pass);
        cJSON_AddStringToObject(j, "why", t->why);
        cJSON_AddItemToArray(arr, j);
    }
    const char *why = "no mode stays inside the budget; nothing written";
    char buf[160];
    if (a->chosen != TQ_QUANT_FP32) {
        snprintf(buf, sizeof(buf), "%s is the cheapest mode that passes (order: dynamic, static, qat)",
                 mode_name(a->chosen));
        why = buf;
    }
    cJSON_AddStringToObject(o, "why", why);
    return o;
}

TQ_API int tq_quantize_auto_file(const char *model_path, const char *output_path,
                                 tq_quant_settings *s, tq_auto_settings *a,
                                 const char *report_path, const char *command_line,
                                 tq_quant_summary *summary, tq_error *err)
{
    tq_quant_summary local = {0};
    tq_quant_summary *sum = summary ? summary : &local;
    memset(sum, 0, sizeof(*sum));
    if (!model_path || !s || !a)
        return tq_fail(err, TQ_EINVAL, "quantize: no model path or settings");
    if (!(a->budget >= 0.0 && a->budget <= 1.0))
        return tq_fail(err, TQ_EINVAL, "quantize: budget %g is outside [0, 1]", a->budget);
    char *def_out = output_path ? NULL : tq_quant_default_output(model_path);
    const char *out = output_path ? output_path : def_out;
    if (!out)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    const char *train = s->qat ? s->qat->train_npz : NULL;
    if (!a->calibration)
        a->calibration = train;
    int rc = tq_quant_check_outputs(model_path, out, s, a->calibration, report_path, err);
    if (!rc && a->data)
        rc = tq_quant_check_outputs(model_path, out, s, a->data, NULL, err);
    reference ref = {0};
    tq_model *fp32 = NULL;
    if (!rc)
        rc = tq_model_load(&fp32, model_path, err);
    if (!rc)
        rc = tq_gate_synthetic_outputs(fp32, &ref.syn, &ref.n_syn, err);
    if (!rc && a->data) {
        rc = tq_npz_read(a->data, &ref.data, err);
        ref.has_data = !rc;
        if (!rc)
            rc = task_metric(fp32, &ref.data, a->data, &ref.task, err);
    }
    tq_model_free(&fp32);
    static const tq_quant_mode order[3] = {TQ_QUANT_DYNAMIC, TQ_QUANT_STATIC, TQ_QUANT_QAT};
    tq_model *kept = NULL;
    tq_range_table ranges = {0};
    a->chosen = TQ_QUANT_FP32;
    tq_quant_mode asked = s->mode;
    for (int i = 0; i < 3; i++) {
        tq_auto_trial *t = &a->trials[i];
        memset(t, 0, sizeof(*t));
        t->mode = order[i];
        if (rc)
            continue;
        if (kept) {
            snprintf(t->why, sizeof(t->why), "not tried: %s already passes", mode_name(a->chosen));
            continue;
        }
        if (order[i] == TQ_QUANT_STATIC && !a->calibration) {
            snprintf(t->why, sizeof(t->why), "not tried: needs --calibration or --train");
            continue;
        }
        if (order[i] == TQ_QUANT_QAT && !train) {
            snprintf(t->why, sizeof(t->why), "not tried: needs --train");
            continue;
        }
        s->mode = order[i];
        tq_range_table_free(&ranges);
        memset(&ranges, 0, sizeof(ranges));
        rc = try_mode(model_path, s, a, &ref, t, &kept, &ranges, sum, err);
        if (kept)
            a->chosen = order[i];
    }
    cJSON *info = rc ? NULL : auto_json(a);
    if (!rc && !info)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!rc && kept) {
        rc = tq_quant_write_result(kept, model_path, out, s,
                                   s->mode == TQ_QUANT_STATIC ? a->calibration : NULL, &ranges,
                                   sum, report_path, command_line, info, err);
    } else if (!rc) {
        /* Nothing passed: no model; the report still says what was tried. */
        if (report_path) {
            char *text = cJSON_Print(info);
            tq_atomic_file f = {0};
            rc = text ? tq_atomic_open(&f, report_path, err) : tq_fail(err, TQ_ENOMEM, "out of memory");
            if (!rc)
                rc = tq_atomic_write(&f, text, strlen(text), err);
            if (!rc)
                rc = tq_atomic_commit(&f, err);
            tq_atomic_abort(&f);
            free(text);
        }
        if (!rc)
            rc = tq_fail(err, TQ_ECHECK, "%s: no quantisation mode stays inside the budget %g "
                         "(dynamic: %.200s; static: %.200s; qat: %.200s)", model_path, a->budget,
                         a->trials[0].why, a->trials[1].why, a->trials[2].why);
    }
    if (!kept)
        s->mode = asked;
    cJSON_Delete(info);
    tq_range_table_free(&ranges);
    tq_model_free(&kept);
    tq_tensor_set_free(&ref.data);
    free(ref.syn);
    free(def_out);
    return rc;
}
