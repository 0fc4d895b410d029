/* `tinyq inspect MODEL [--json]`: what a model takes, gives, and contains. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "graph/summary.h"
#include "scaler_note.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq inspect MODEL.onnx [--json]\n\n"
            "Shows inputs and outputs with shapes (symbolic dims by name), opset, an op\n"
            "histogram, parameter count, file and external-data sizes, value_info entries\n"
            "that duplicate initializers, whether the model is quantised, and who applies\n"
            "the StandardScaler: the registry loader (from the sidecar <basename>.json beside\n"
            "the model; X.int8.onnx reads X.json too), the graph (baked Sub/Div), or none.\n\n"
            "  --json   one JSON object on stdout instead of text\n\n"
            "Example:\n  tinyq inspect model.onnx\n");
}

static void format_shape(const tq_value_info *v, char *buf, size_t len)
{
    if (v->rank < 0) {
        snprintf(buf, len, "(unknown shape)");
        return;
    }
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < v->rank && o < len; d++)
        o += (size_t)(v->dims[d] >= 0 ? snprintf(buf + o, len - o, "%s%lld", d ? "," : "",
                                                 (long long)v->dims[d])
                                      : snprintf(buf + o, len - o, "%s%s", d ? "," : "",
                                                 v->dim_params[d] ? v->dim_params[d] : "?"));
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

static cJSON *io_json(const tq_model *m, const tq_value_info *vs, int n, int skip_init)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        const tq_value_info *v = &vs[i];
        if (skip_init && tq_graph_find_initializer(&m->graph, v->name))
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", v->name);
        cJSON_AddStringToObject(o, "dtype", tq_dtype_name(v->dtype));
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < v->rank; d++)
            cJSON_AddItemToArray(shape, v->dims[d] >= 0
                                            ? cJSON_CreateNumber((double)v->dims[d])
                                            : cJSON_CreateString(v->dim_params[d] ? v->dim_params[d] : "?"));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static int print_json(const tq_model *m, const tq_model_summary *s, const scaler_note *sn)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", m->path);
    cJSON_AddNumberToObject(root, "file_bytes", (double)m->file_bytes);
    cJSON_AddNumberToObject(root, "external_data_bytes", (double)m->external_bytes);
    cJSON_AddNumberToObject(root, "external_tensors", m->n_external_tensors);
    cJSON_AddNumberToObject(root, "ir_version", (double)m->ir_version);
    cJSON_AddNumberToObject(root, "opset", (double)tq_model_opset(m));
    cJSON_AddStringToObject(root, "producer", m->producer_name ? m->producer_name : "");
    cJSON_AddItemToObject(root, "inputs", io_json(m, m->graph.inputs, m->graph.n_inputs, 1));
    cJSON_AddItemToObject(root, "outputs", io_json(m, m->graph.outputs, m->graph.n_outputs, 0));
    cJSON_AddNumberToObject(root, "nodes", m->graph.n_nodes);
    cJSON *ops = cJSON_AddObjectToObject(root, "ops");
    for (int i = 0; i < s->n_ops; i++)
        cJSON_AddNumberToObject(ops, s->ops[i].op_type, s->ops[i].count);
    cJSON_AddNumberToObject(root, "parameters", (double)s->n_params);
    cJSON_AddNumberToObject(root, "parameter_bytes", (double)s->param_bytes);
    cJSON_AddNumberToObject(root, "value_info_duplicates", s->n_value_info_dupes);
    static const char *const quant_key[] = {"fp32", "dynamic", "static_qdq", "qoperator"};
    cJSON_AddStringToObject(root, "quantization", quant_key[s->quant]);
    cJSON *scaler = cJSON_AddObjectToObject(root, "scaler");
    cJSON_AddStringToObject(scaler, "applied_by", scaler_note_key(sn));
    if (sn->have_sidecar)
        cJSON_AddStringToObject(scaler, "sidecar", sn->sidecar);
    else
        cJSON_AddNullToObject(scaler, "sidecar");
    cJSON_AddNumberToObject(scaler, "sidecar_scaler_features", sn->sidecar_scaler);
    if (sn->problem[0])
        cJSON_AddStringToObject(scaler, "problem", sn->problem);
    char *txt = cJSON_Print(root);
    int ok = txt != NULL;
    if (ok)
        printf("%s\n", txt);
    cJSON_free(txt);
    cJSON_Delete(root);
    return ok ? EXIT_OK : EXIT_USAGE;
}

static void print_io(const char *label, const tq_model *m, const tq_value_info *vs, int n,
                     int skip_init)
{
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (skip_init && tq_graph_find_initializer(&m->graph, vs[i].name))
            continue;
        char shape[256];
        format_shape(&vs[i], shape, sizeof shape);
        printf("%-12s %-12s %-8s %s\n", first ? label : "", vs[i].name, tq_dtype_name(vs[i].dtype),
               shape);
        first = 0;
    }
}

static void print_text(const tq_model *m, const tq_model_summary *s, const scaler_note *sn)
{
    printf("%-12s %s (%zu bytes", "model", m->path, m->file_bytes);
    if (m->n_external_tensors)
        printf(" + %zu bytes external data in %d tensors)\n", m->external_bytes,
               m->n_external_tensors);
    else
        printf(", weights inline)\n");
    printf("%-12s %s %s, IR version %lld, opset %lld\n", "producer",
           m->producer_name && m->producer_name[0] ? m->producer_name : "(unknown)",
           m->producer_version ? m->producer_version : "", (long long)m->ir_version,
           (long long)tq_model_opset(m));
    print_io("inputs", m, m->graph.inputs, m->graph.n_inputs, 1);
    print_io("outputs", m, m->graph.outputs, m->graph.n_outputs, 0);
    printf("%-12s %lld in %d initializers (%lld bytes)\n", "parameters", (long long)s->n_params,
           m->graph.n_initializers, (long long)s->param_bytes);
    printf("%-12s %d nodes:", "ops", m->graph.n_nodes);
    for (int i = 0; i < s->n_ops; i++)
        printf("%s %s x%d", i ? "," : "", s->ops[i].op_type, s->ops[i].count);
    printf("\n");
    if (s->n_value_info_dupes)
        printf("%-12s %d entries duplicate initializers (an exporter quirk; tinyq ignores "
               "them, `tinyq sanitize` removes them)\n",
               "value_info", s->n_value_info_dupes);
    else
        printf("%-12s no duplicates of initializers\n", "value_info");
    printf("%-12s %s\n", "quantization", tq_quant_state_name(s->quant));
    char note[2048];
    scaler_note_text(sn, note, sizeof note);
    printf("%-12s %s\n", "scaler", note);
}

int cmd_inspect(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-')
            return cli_usage_error("inspect", "unknown option '%s'", argv[i]);
        else if (!path)
            path = argv[i];
        else
            return cli_usage_error("inspect", "one model at a time ('%s' is extra)", argv[i]);
    }
    if (!path)
        return cli_usage_error("inspect", "missing MODEL.onnx");
    tq_error err = {0};
    tq_model *m = NULL;
    if (tq_model_load(&m, path, &err))
        return cli_report(&err);
    tq_model_summary s;
    scaler_note sn;
    if (scaler_note_make(m, path, &sn)) {
        tq_model_free(&m);
        fprintf(stderr, "tinyq: error: %s: out of memory\n", path);
        return EXIT_USAGE;
    }
    if (tq_model_summarize(m, &s)) {
        scaler_note_free(&sn);
        tq_model_free(&m);
        fprintf(stderr, "tinyq: error: %s: out of memory\n", path);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK;
    if (json)
        rc = print_json(m, &s, &sn);
    else
        print_text(m, &s, &sn);
    scaler_note_free(&sn);
    tq_model_summary_free(&s);
    tq_model_free(&m);
    return rc;
}
