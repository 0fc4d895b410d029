/* `tinyq eval MODEL --data D.npz [--per-sample] [--batch N] [--out-json J]`:
 * the task metric of one model on a labelled set (top-1 and per-class
 * accuracy for classifiers, PLCC/SROCC/RMSE for regressors). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_util.h"
#include "gate_report.h"
#include "io/npz.h"
#include "registry/eval.h"
#include "registry/gate.h"
#include "util/provenance.h"

#define DEFAULT_BATCH 64

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq eval MODEL.onnx --data D.npz [--per-sample | --batch N] [--out-json J]\n\n"
            "Runs MODEL over D.npz (one key per model input, stacked on axis 0) and scores\n"
            "its first output:\n"
            "  classifier (output [N, C], C > 1, and a 'label' key of class indices):\n"
            "      top-1 accuracy and per-class accuracy\n"
            "  regressor ('target' key): PLCC, SROCC and RMSE against the targets\n\n"
            "  --per-sample   run one sample at a time (as `tinyq drop --data` and the\n"
            "                 deployed per-frame use; dynamic int8 models compute their\n"
            "                 activation scales per run, so this is their exact metric)\n"
            "  --batch N      samples per run otherwise (default %d)\n"
            "  --out-json J   also write a JSON report with run_provenance\n\n"
            "Exit codes: 0 success, 2 usage or input error.\n", DEFAULT_BATCH);
}

static void add_number(cJSON *o, const char *k, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, v);
}

static cJSON *report_json(int argc, char **argv, const char *model_path, const tq_model *m,
                          const char *data_path, long batch, const tq_eval_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char *cmd = tq_command_line(argc, argv);
    cJSON_AddItemToObject(o, "run_provenance", tq_run_provenance(cmd));
    free(cmd);
    cJSON_AddStringToObject(o, "model", model_path);
    struct stat st;
    if (stat(model_path, &st) == 0)
        cJSON_AddNumberToObject(o, "model_bytes", (double)st.st_size);
    cJSON_AddStringToObject(o, "quant_mode", tq_model_quant_mode_guess(m));
    cJSON_AddStringToObject(o, "data", data_path);
    cJSON_AddStringToObject(o, "execution", batch <= 1 ? "per-sample" : "batched");
    cJSON_AddNumberToObject(o, "batch", batch <= 1 ? 1 : (double)batch);
    cJSON_AddNumberToObject(o, "n_samples", (double)r->n_samples);
    cJSON_AddStringToObject(o, "task", r->is_classifier ? "classification" : "regression");
    cJSON *mt = cJSON_AddObjectToObject(o, "metric");
    if (!r->is_classifier) {
        add_number(mt, "plcc", r->plcc);
        add_number(mt, "srocc", r->srocc);
        add_number(mt, "rmse", r->rmse);
        return o;
    }
    add_number(mt, "top1", r->top1);
    cJSON_AddNumberToObject(mt, "correct", (double)r->correct);
    cJSON_AddNumberToObject(mt, "n_classes", (double)r->n_classes);
    cJSON *pc = cJSON_AddArrayToObject(mt, "per_class");
    for (size_t c = 0; c < r->n_classes; c++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "class", (double)c);
        cJSON_AddNumberToObject(e, "n", (double)r->class_totals[c]);
        cJSON_AddNumberToObject(e, "correct", (double)r->class_hits[c]);
        add_number(e, "accuracy", r->class_totals[c]
                                      ? (double)r->class_hits[c] / (double)r->class_totals[c]
                                      : NAN);
        cJSON_AddItemToArray(pc, e);
    }
    return o;
}

int cmd_eval(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *model_path = NULL, *data_path = NULL, *json_path = NULL;
    long batch = DEFAULT_BATCH;
    int per_sample = 0, batch_given = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data_path = argv[++i];
        else if (strcmp(argv[i], "--out-json") == 0 && i + 1 < argc)
            json_path = argv[++i];
        else if (strcmp(argv[i], "--per-sample") == 0)
            per_sample = 1;
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 1L << 20, &batch))
                return cli_usage_error("eval", "--batch needs an integer in [1, 1048576], got '%s'",
                                       argv[i]);
            batch_given = 1;
        } else if (argv[i][0] == '-')
            return cli_usage_error("eval", "unknown option or missing value '%s'", argv[i]);
        else if (!model_path)
            model_path = argv[i];
        else
            return cli_usage_error("eval", "unexpected argument '%s'", argv[i]);
    }
    if (!model_path)
        return cli_usage_error("eval", "missing MODEL.onnx");
    if (!data_path)
        return cli_usage_error("eval", "missing --data D.npz (a labelled evaluation set)");
    if (per_sample && batch_given)
        return cli_usage_error("eval", "--per-sample and --batch exclude each other");
    if (per_sample)
        batch = 1;
    tq_error err = {0};
    tq_model *m = NULL;
    tq_tensor_set data = {0};
    double *out = NULL;
    size_t n = 0, cols = 0;
    tq_eval_result r = {0};
    int rc = tq_model_load(&m, model_path, &err);
    if (!rc)
        rc = tq_npz_read(data_path, &data, &err);
    if (!rc)
        rc = tq_eval_outputs(m, &data, data_path, batch, &out, &n, &cols, &err);
    if (!rc)
        rc = tq_eval_metrics(out, n, cols, &data, data_path, &r, &err);
    int exit_code = EXIT_OK;
    if (rc)
        exit_code = cli_report(&err);
    else {
        printf("%s: %s, %zu samples, %s\n", model_path,
               r.is_classifier ? "classifier" : "regressor", r.n_samples, r.line);
        for (size_t c = 0; r.is_classifier && c < r.n_classes; c++)
            if (r.class_totals[c])
                printf("  class %zu: %.6f (%zu/%zu)\n", c,
                       (double)r.class_hits[c] / (double)r.class_totals[c], r.class_hits[c],
                       r.class_totals[c]);
            else
                printf("  class %zu: no samples\n", c);
        if (json_path) {
            cJSON *rep = report_json(argc, argv, model_path, m, data_path, batch, &r);
            if (!rep || gate_report_write(rep, json_path))
                exit_code = EXIT_USAGE;
            cJSON_Delete(rep);
        }
    }
    tq_eval_result_free(&r);
    free(out);
    tq_tensor_set_free(&data);
    tq_model_free(&m);
    return exit_code;
}
