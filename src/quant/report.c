/* JSON report of one quantisation (cJSON does the encoding). */
#include <cjson/cJSON.h>

#include "util/provenance.h"
#include "quant/report.h"
#include "quant/equalize.h"

static const char *method_name(tq_calib_method m)
{
    return m == TQ_CALIB_ENTROPY ? "entropy" : m == TQ_CALIB_PERCENTILE ? "percentile"
           : m == TQ_CALIB_MSE ? "mse" : "minmax";
}

/* Per-channel ranges (per_channel_activations): name -> {axis, min[], max[]};
 * the [min, max] pairs beside them hold each tensor's union of channels. */
static void add_channel_ranges(cJSON *parent, const char *key, const tq_range *r, int n)
{
    cJSON *o = NULL;
    for (int i = 0; i < n; i++) {
        if (r[i].n_ch <= 0 || r[i].n_ch > 1 << 20)
            continue;
        if (!o && !(o = cJSON_AddObjectToObject(parent, key)))
            return;
        cJSON *t = cJSON_AddObjectToObject(o, r[i].name);
        if (!t)
            return;
        cJSON_AddNumberToObject(t, "axis", r[i].axis);
        cJSON_AddItemToObject(t, "min", cJSON_CreateFloatArray(r[i].cmin, (int)r[i].n_ch));
        cJSON_AddItemToObject(t, "max", cJSON_CreateFloatArray(r[i].cmax, (int)r[i].n_ch));
    }
}

/* What QAT fine-tuning did: objective, data, optimiser and the loss curve. */
static void add_qat(cJSON *r, const tq_qat_settings *q, const tq_range_table *ranges)
{
    cJSON *o = cJSON_AddObjectToObject(r, "qat");
    if (!o)
        return;
    cJSON_AddStringToObject(o, "train", q->train_npz ? q->train_npz : "");
    cJSON_AddStringToObject(o, "objective", q->objective);
    cJSON_AddStringToObject(o, "optimizer", q->optimizer == TQ_QAT_SGD ? "sgd" : "adam");
    cJSON_AddNumberToObject(o, "lr", q->lr);
    cJSON_AddNumberToObject(o, "epochs", q->epochs_run);
    cJSON_AddNumberToObject(o, "batch", q->batch);
    cJSON_AddNumberToObject(o, "seed", (double)q->seed);
    cJSON_AddBoolToObject(o, "smoke", q->smoke != 0);
    cJSON_AddNumberToObject(o, "train_samples", (double)q->n_train);
    cJSON_AddNumberToObject(o, "steps", (double)q->n_steps);
    cJSON_AddNumberToObject(o, "calibration_samples", (double)q->n_calibration_used);
    cJSON_AddNumberToObject(o, "fake_quant_weights", q->n_fake_quant_weights);
    cJSON_AddNumberToObject(o, "fake_quant_activations", q->n_fake_quant_activations);
    cJSON_AddStringToObject(o, "export_ranges", q->recalibrate ? "recalibrated" : "trained");
    /* the ranges the fake quantisation held at the end of training */
    cJSON *tr = cJSON_AddObjectToObject(o, "trained_ranges");
    for (int i = 0; tr && ranges && i < ranges->n_trained; i++) {
        cJSON *pair = cJSON_CreateFloatArray((const float[]){ranges->trained[i].rmin,
                                                             ranges->trained[i].rmax}, 2);
        if (pair)
            cJSON_AddItemToObject(tr, ranges->trained[i].name, pair);
    }
    if (ranges)
        add_channel_ranges(o, "trained_channel_ranges", ranges->trained, ranges->n_trained);
    cJSON_AddNumberToObject(o, "loss_before", q->loss_before);
    cJSON *l = cJSON_AddArrayToObject(o, "epoch_loss");
    for (int e = 0; l && e < q->epochs_run; e++)
        cJSON_AddItemToArray(l, cJSON_CreateNumber(q->epoch_loss[e]));
    cJSON_AddNumberToObject(o, "seconds", q->seconds);
}

char *tq_quant_report_json(const tq_report_info *in)
{
    const tq_quant_settings *s = in->settings;
    bool dyn = s->mode == TQ_QUANT_DYNAMIC;
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "command", "quantize");
    cJSON_AddStringToObject(r, "model", in->model_path);
    cJSON_AddStringToObject(r, "output", in->output_path);
    cJSON_AddStringToObject(r, "mode", dyn ? "dynamic" : s->mode == TQ_QUANT_QAT ? "qat" : "static");
    cJSON_AddStringToObject(r, "format", dyn ? "qoperator-dynamic" : "qdq");
    cJSON_AddStringToObject(r, "weight_type", "int8");
    cJSON_AddBoolToObject(r, "weight_symmetric", 1);
    /* DynamicQuantizeLinear only produces uint8. */
    cJSON_AddStringToObject(r, "activation_type",
                            dyn || s->activation_type == TQ_UINT8 ? "uint8" : "int8");
    cJSON_AddBoolToObject(r, "activation_symmetric", 0);
    cJSON_AddBoolToObject(r, "per_channel", s->per_channel != 0);
    cJSON_AddNumberToObject(r, "fp32_bytes", (double)in->summary->fp32_bytes);
    cJSON_AddNumberToObject(r, "int8_bytes", (double)in->summary->int8_bytes);
    if (in->summary->fp32_bytes)
        cJSON_AddNumberToObject(r, "int8_to_fp32_size_ratio",
                                (double)in->summary->int8_bytes / (double)in->summary->fp32_bytes);
    cJSON_AddNumberToObject(r, "nodes_quantized", in->summary->n_nodes_quantized);
    if (!dyn)
        cJSON_AddBoolToObject(r, "float_outputs", s->float_outputs != 0);
    if (!dyn)
        cJSON_AddBoolToObject(r, "per_channel_activations", s->per_channel_activations != 0);
    if (!dyn && s->equalize) {
        cJSON *e = cJSON_AddObjectToObject(r, "equalize");
        if (e) {
            cJSON_AddNumberToObject(e, "alpha_input", s->equalize_alpha_input > 0
                                                          ? s->equalize_alpha_input
                                                          : TQ_EQUALIZE_ALPHA_INPUT);
            cJSON_AddNumberToObject(e, "alpha_layers", s->equalize_alpha_layers > 0
                                                           ? s->equalize_alpha_layers
                                                           : TQ_EQUALIZE_ALPHA_LAYERS);
            cJSON_AddNumberToObject(e, "inputs", in->ranges ? in->ranges->n_equalized_inputs : 0);
            cJSON_AddNumberToObject(e, "centered_inputs",
                                    in->ranges ? in->ranges->n_centered_inputs : 0);
            cJSON_AddNumberToObject(e, "pairs", in->ranges ? in->ranges->n_equalized_pairs : 0);
        }
    }
    cJSON_AddNumberToObject(r, "nodes_left_fp32", in->summary->n_nodes_skipped);
    cJSON *ex = cJSON_AddArrayToObject(r, "excluded_nodes");
    for (int i = 0; ex && i < s->n_exclude_nodes; i++)
        cJSON_AddItemToArray(ex, cJSON_CreateString(s->exclude_nodes[i]));
    if (dyn) {
        cJSON_AddNullToObject(r, "calibration");
    } else {
        cJSON *c = cJSON_AddObjectToObject(r, "calibration");
        if (c) {
            /* qat without a calibration set calibrates on a sample of its
             * training set (a temporary file) */
            cJSON_AddStringToObject(c, "path", in->calibration_path ? in->calibration_path
                                               : s->mode == TQ_QUANT_QAT && s->qat &&
                                                         s->qat->train_npz
                                                   ? s->qat->train_npz
                                                   : "");
            cJSON_AddStringToObject(c, "method", method_name(s->method));
            if (s->method == TQ_CALIB_PERCENTILE)
                cJSON_AddNumberToObject(c, "percentile", s->percentile);
            cJSON *names = cJSON_AddArrayToObject(c, "input_names");
            for (int i = 0; names && i < in->ranges->n_input_names; i++)
                cJSON_AddItemToArray(names, cJSON_CreateString(in->ranges->input_names[i]));
            cJSON_AddNumberToObject(c, "samples", (double)in->ranges->n_samples);
            cJSON *tr = cJSON_AddObjectToObject(c, "tensor_ranges");
            for (int i = 0; tr && i < in->ranges->n; i++) {
                cJSON *pair = cJSON_CreateFloatArray((const float[]){in->ranges->r[i].rmin,
                                                                     in->ranges->r[i].rmax}, 2);
                if (pair)
                    cJSON_AddItemToObject(tr, in->ranges->r[i].name, pair);
            }
            add_channel_ranges(c, "tensor_channel_ranges", in->ranges->r, in->ranges->n);
        }
    }
    if (s->mode == TQ_QUANT_QAT && s->qat)
        add_qat(r, s->qat, in->ranges);
    if (in->auto_info)
        cJSON_AddItemToObject(r, "auto", cJSON_Duplicate(in->auto_info, 1));
    cJSON *prov = tq_run_provenance(in->command_line);
    if (prov)
        cJSON_AddItemToObject(r, "run_provenance", prov);
    char *text = prov ? cJSON_Print(r) : NULL;
    cJSON_Delete(r);
    return text;
}
