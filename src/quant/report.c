/* JSON report of one quantisation (cJSON does the encoding). */
#include <cjson/cJSON.h>

#include "util/provenance.h"
#include "quant/report.h"

static const char *method_name(tq_calib_method m)
{
    return m == TQ_CALIB_ENTROPY ? "entropy" : m == TQ_CALIB_PERCENTILE ? "percentile" : "minmax";
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
    cJSON_AddStringToObject(r, "mode", dyn ? "dynamic" : "static");
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
    cJSON_AddNumberToObject(r, "nodes_left_fp32", in->summary->n_nodes_skipped);
    cJSON *ex = cJSON_AddArrayToObject(r, "excluded_nodes");
    for (int i = 0; ex && i < s->n_exclude_nodes; i++)
        cJSON_AddItemToArray(ex, cJSON_CreateString(s->exclude_nodes[i]));
    if (dyn) {
        cJSON_AddNullToObject(r, "calibration");
    } else {
        cJSON *c = cJSON_AddObjectToObject(r, "calibration");
        if (c) {
            cJSON_AddStringToObject(c, "path", in->calibration_path ? in->calibration_path : "");
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
        }
    }
    cJSON *prov = tq_run_provenance(in->command_line);
    if (prov)
        cJSON_AddItemToObject(r, "run_provenance", prov);
    char *text = prov ? cJSON_Print(r) : NULL;
    cJSON_Delete(r);
    return text;
}
