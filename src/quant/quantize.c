/* The quantiser's public entry points: settings, validation, dispatch to the
 * dynamic or static rewrite, and the file-to-file job (load, rewrite, atomic
 * save, report). The input file is never opened for writing. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant/quant_internal.h"
#include "quant/report.h"
#include "quant/auto.h"
#include "quant/equalize.h"
#include "onnx/onnx_io.h"
#include "graph/fold_bn.h"
#include "train/qat.h"
#include "util/error.h"
#include "util/fileio.h"

/* The equalize fields and per_channel_activations came out of `reserved`: the bytes after float_outputs
 * (and so the struct's size and every other field's offset) stay as they
 * were. */
_Static_assert(offsetof(tq_quant_settings, reserved) + sizeof(((tq_quant_settings *)0)->reserved) -
                       offsetof(tq_quant_settings, equalize) ==
                   64 - sizeof(void *) - 2 * sizeof(int),
               "tq_quant_settings layout changed");

static const char *const supported_ops[] = {"Conv", "ConvTranspose", "Gemm", "MatMul", NULL};

TQ_API void tq_quant_default_settings(tq_quant_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->mode = TQ_QUANT_DYNAMIC;
    s->activation_type = TQ_INT8;
    s->method = TQ_CALIB_MINMAX;
    s->percentile = 99.999;
    s->calib_batch = 16;
}

static int validate(const tq_quant_settings *s, tq_error *err)
{
    if (!s)
        return tq_fail(err, TQ_EINVAL, "quantize: no settings");
    if (s->mode != TQ_QUANT_DYNAMIC && s->mode != TQ_QUANT_STATIC && s->mode != TQ_QUANT_QAT)
        return tq_fail(err, TQ_EINVAL, "quantize: unknown mode %d (dynamic, static or qat)",
                       (int)s->mode);
    if (s->mode == TQ_QUANT_QAT && (!s->qat || !s->qat->train_npz))
        return tq_fail(err, TQ_EINVAL, "quantize: --mode qat needs a training set (--train DATA.npz)");
    if (s->activation_type != TQ_INT8 && s->activation_type != TQ_UINT8)
        return tq_fail(err, TQ_EINVAL, "quantize: activation type %s (int8 or uint8)",
                       tq_dtype_name(s->activation_type));
    if (s->method != TQ_CALIB_MINMAX && s->method != TQ_CALIB_ENTROPY &&
        s->method != TQ_CALIB_PERCENTILE && s->method != TQ_CALIB_MSE)
        return tq_fail(err, TQ_EINVAL, "quantize: unknown calibration method %d", (int)s->method);
    if (!(s->percentile > 0.0 && s->percentile <= 100.0))
        return tq_fail(err, TQ_EINVAL, "quantize: percentile %g is outside (0, 100]", s->percentile);
    for (int i = 0; i < s->n_op_types; i++) {
        bool ok = false;
        for (int k = 0; supported_ops[k] && !ok; k++)
            ok = strcmp(s->op_types[i], supported_ops[k]) == 0;
        if (!ok)
            return tq_fail(err, TQ_EINVAL,
                           "quantize: op type '%s' cannot be quantised (supported: Conv, "
                           "ConvTranspose, Gemm, MatMul)", s->op_types[i]);
    }
    return TQ_OK;
}

/* QAT: fine-tune the (BN-folded) fp32 weights through fake quantisation
 * with the static export's calibrated ranges (on --calibration, or on
 * samples of the training set), then the static QDQ export of the
 * fine-tuned model: with those same ranges, or recalibrated on the same set
 * when s->qat->recalibrate is set. */
static int quantize_qat(tq_model *m, const tq_quant_settings *s, const char *cal,
                        tq_quant_summary *sum, tq_range_table *ranges, tq_error *err)
{
    char *dir = NULL, *path = NULL;
    tq_range_table qat_ranges = {0}, trained = {0};
    int rc = tq_qat_finetune(m, s, s->qat, cal, &qat_ranges, &trained, &dir, &path, err);
    if (rc)
        return rc;
    tq_quant_settings st = *s;
    st.mode = TQ_QUANT_STATIC;
    rc = tq_quantize_static(m, &st, cal ? cal : path, s->qat->recalibrate ? NULL : &qat_ranges,
                            sum, ranges, err);
    tq_qat_remove_calibration(dir, path);
    if (!rc) {
        ranges->trained = trained.r;
        ranges->n_trained = trained.n;
        trained.r = NULL;
        trained.n = 0;
    }
    tq_range_table_free(&qat_ranges);
    tq_range_table_free(&trained);
    return rc;
}

static int quantize_model(tq_model *m, const tq_quant_settings *s, const char *cal,
                          tq_quant_summary *sum, tq_range_table *ranges, tq_error *err)
{
    int rc = validate(s, err);
    if (rc)
        return rc;
    const char *name = m->path ? m->path : "model";
    int64_t opset = tq_model_opset(m);
    /* DynamicQuantizeLinear needs opset 11; QuantizeLinear's axis needs 13. */
    bool pca = s->mode != TQ_QUANT_DYNAMIC && s->per_channel_activations;
    int64_t need = s->mode == TQ_QUANT_DYNAMIC ? 11 : s->per_channel || pca ? 13 : 10;
    const char *mode_name = s->mode == TQ_QUANT_DYNAMIC ? "dynamic"
                            : s->mode == TQ_QUANT_QAT   ? "qat"
                                                        : "static";
    if (opset < need)
        return tq_fail(err, TQ_EUNSUPPORTED,
                       "%s: opset %lld is too old for %s%s quantisation (needs opset >= %lld)", name,
                       (long long)opset, pca ? "per-channel-activation "
                                         : s->per_channel ? "per-channel " : "",
                       mode_name, (long long)need);
    if (tq_model_sanitize(m) < 0)
        return tq_fail(err, TQ_EINTERNAL, "%s: sanitize failed", name);
    /* BatchNormalization after a Conv becomes part of its weights, so the int8
     * weights carry the BN scale and no float BN runs between int8 layers
     * (ONNX Runtime's quantiser pre-processing does the same). */
    if ((rc = tq_fold_batchnorm(m, err)) < 0)
        return rc;
    if (s->mode == TQ_QUANT_DYNAMIC) {
        if (cal)
            return tq_fail(err, TQ_EINVAL,
                           "quantize: --calibration is for static mode (dynamic mode needs no data)");
        return tq_quantize_dynamic(m, s, sum, err);
    }
    /* Equalise before QAT's fine-tuning too: training then starts from the
     * rescaled weights the export will calibrate. Without --calibration QAT
     * measures the ranges on its training set. */
    tq_equalize_result eq = {0};
    if (s->equalize) {
        const char *eq_set = cal ? cal : s->mode == TQ_QUANT_QAT ? s->qat->train_npz : NULL;
        if (!eq_set)
            return tq_fail(err, TQ_EINVAL,
                           "static quantisation needs a calibration set (--calibration CAL.npz)");
        if ((rc = tq_equalize(m, s, eq_set, &eq, err)))
            return rc;
    }
    rc = s->mode == TQ_QUANT_QAT ? quantize_qat(m, s, cal, sum, ranges, err)
                                 : tq_quantize_static(m, s, cal, NULL, sum, ranges, err);
    ranges->n_equalized_inputs = eq.n_inputs;
    ranges->n_centered_inputs = eq.n_centered;
    ranges->n_equalized_pairs = eq.n_pairs;
    return rc;
}

TQ_API int tq_quantize_model(tq_model *m, const tq_quant_settings *s, const char *calibration_npz,
                             tq_quant_summary *summary, tq_error *err)
{
    if (!m)
        return tq_fail(err, TQ_EINVAL, "quantize: no model");
    tq_quant_summary local = {0};
    tq_range_table ranges = {0};
    int rc = quantize_model(m, s, calibration_npz, summary ? summary : &local, &ranges, err);
    tq_range_table_free(&ranges);
    return rc;
}

TQ_API char *tq_quant_default_output(const char *model_path)
{
    if (!model_path)
        return NULL;
    size_t len = strlen(model_path);
    const char *slash = strrchr(model_path, '/');
    size_t stem = len;
    if (len > 5 && strcmp(model_path + len - 5, ".onnx") == 0 &&
        (!slash || (size_t)(slash - model_path) < len - 5))
        stem = len - 5;
    char *out = malloc(stem + sizeof(".int8.onnx"));
    if (!out)
        return NULL;
    memcpy(out, model_path, stem);
    memcpy(out + stem, ".int8.onnx", sizeof(".int8.onnx"));
    return out;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Never overwrite an input: the fp32 model, the calibration or training set. */
int tq_quant_check_outputs(const char *model_path, const char *out, const tq_quant_settings *s,
                           const char *calibration_npz, const char *report_path, tq_error *err)
{
    const char *train = s && s->qat ? s->qat->train_npz : NULL;
    if (same_file(model_path, out) || (calibration_npz && same_file(calibration_npz, out)) ||
        (train && same_file(train, out)) ||
        (report_path && (same_file(report_path, model_path) || same_file(report_path, out) ||
                         (train && same_file(report_path, train)))))
        return tq_fail(err, TQ_EINVAL, "quantize: output '%s' would overwrite an input",
                       report_path && same_file(report_path, model_path) ? report_path : out);
    return TQ_OK;
}

/* Serialise a quantised model and its report, stage both as temporaries and
 * only then rename them into place. */
int tq_quant_write_result(tq_model *m, const char *model_path, const char *out,
                          const tq_quant_settings *s, const char *calibration_npz,
                          const tq_range_table *ranges, tq_quant_summary *sum,
                          const char *report_path, const char *command_line,
                          const struct cJSON *auto_info, tq_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char *json = NULL;
    int rc = tq_onnx_serialize(m, &buf, &len, err);
    if (!rc) {
        sum->int8_bytes = len;
        if (report_path) {
            tq_report_info info = {.model_path = model_path, .output_path = out, .settings = s,
                                   .calibration_path = calibration_npz, .ranges = ranges,
                                   .summary = sum, .command_line = command_line,
                                   .auto_info = auto_info};
            json = tq_quant_report_json(&info);
            if (!json)
                rc = tq_fail(err, TQ_ENOMEM, "%s: out of memory building the report", report_path);
        }
    }
    tq_atomic_file model_file = {0}, report_file = {0};
    if (!rc)
        rc = tq_atomic_open(&model_file, out, err);
    if (!rc)
        rc = tq_atomic_write(&model_file, buf, len, err);
    if (!rc && json)
        rc = tq_atomic_open(&report_file, report_path, err);
    if (!rc && json)
        rc = tq_atomic_write(&report_file, json, strlen(json), err);
    if (!rc)
        rc = tq_atomic_commit(&model_file, err);
    if (!rc && json)
        rc = tq_atomic_commit(&report_file, err);
    tq_atomic_abort(&model_file);
    tq_atomic_abort(&report_file);
    free(buf);
    free(json);
    return rc;
}

int tq_quantize_model_ranges(tq_model *m, const tq_quant_settings *s, const char *cal,
                             tq_quant_summary *sum, tq_range_table *ranges, tq_error *err)
{
    return quantize_model(m, s, cal, sum, ranges, err);
}

TQ_API int tq_quantize_file(const char *model_path, const char *output_path,
                            const tq_quant_settings *s, const char *calibration_npz,
                            const char *report_path, const char *command_line,
                            tq_quant_summary *summary, tq_error *err)
{
    tq_quant_summary local = {0};
    tq_quant_summary *sum = summary ? summary : &local;
    memset(sum, 0, sizeof(*sum));
    if (!model_path)
        return tq_fail(err, TQ_EINVAL, "quantize: no model path");
    char *def_out = output_path ? NULL : tq_quant_default_output(model_path);
    const char *out = output_path ? output_path : def_out;
    if (!out)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    int rc = tq_quant_check_outputs(model_path, out, s, calibration_npz, report_path, err);
    tq_model *m = NULL;
    tq_range_table ranges = {0};
    if (!rc)
        rc = tq_model_load(&m, model_path, err);
    if (!rc) {
        sum->fp32_bytes = (uint64_t)m->file_bytes + (uint64_t)m->external_bytes;
        rc = quantize_model(m, s, calibration_npz, sum, &ranges, err);
    }
    if (!rc)
        rc = tq_quant_write_result(m, model_path, out, s, calibration_npz, &ranges, sum,
                                   report_path, command_line, NULL, err);
    tq_range_table_free(&ranges);
    tq_model_free(&m);
    free(def_out);
    return rc;
}
