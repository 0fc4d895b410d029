/* `tinyq drop FP32 [INT8] [--budget B] [--data D.npz] [--out-json J]`: the
 * accuracy gate for one fp32/int8 pair, plus the task metric on a labelled set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "gate_report.h"
#include "io/npz.h"
#include "registry/gate.h"
#include "util/error.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq drop FP32.onnx [INT8.onnx] [--budget B] [--data D.npz] [--out-json J]\n\n"
            "Runs both models (INT8 defaults to FP32's <basename>.int8.onnx) one sample at a\n"
            "time on the deterministic synthetic set (SPEC §4: numpy default_rng(0), 16\n"
            "samples) or on D.npz, and prints\n\n"
            "  [PASS] nr_metric_v1 mode=dynamic PLCC=0.992326 drop=0.007674 budget=0.0100\n\n"
            "(PLCC of the concatenated first outputs, drop = 1 - PLCC, pass when\n"
            "drop <= B; mode is read from the int8 graph). With --data, also the task\n"
            "metric of each model: top-1 accuracy against a 'label' key for classifiers\n"
            "(first output [N, K>1]), PLCC/SROCC/RMSE against a 'target' key otherwise.\n\n"
            "  --budget B     allowed PLCC drop in [0, 1] (default 0.01)\n"
            "  --data D.npz   evaluation set: one key per model input, plus label/target\n"
            "  --out-json J   also write a JSON report with run_provenance\n\n"
            "Exit codes: 0 pass, 1 fail, 2 usage or input error.\n");
}

static char *model_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".onnx") == 0)
        n -= 5;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, base, n);
        s[n] = '\0';
    }
    return s;
}

int cmd_drop(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *fp32_path = NULL, *int8_arg = NULL, *data_path = NULL, *json_path = NULL;
    double budget = 0.01;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
            char *end;
            budget = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !(budget >= 0 && budget <= 1))
                return cli_usage_error("drop", "--budget needs a number in [0, 1], got '%s'",
                                       argv[i]);
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data_path = argv[++i];
        else if (strcmp(argv[i], "--out-json") == 0 && i + 1 < argc)
            json_path = argv[++i];
        else if (argv[i][0] == '-')
            return cli_usage_error("drop", "unknown option '%s'", argv[i]);
        else if (!fp32_path)
            fp32_path = argv[i];
        else if (!int8_arg)
            int8_arg = argv[i];
        else
            return cli_usage_error("drop", "unexpected argument '%s'", argv[i]);
    }
    if (!fp32_path)
        return cli_usage_error("drop", "missing FP32.onnx");
    char *int8_path = int8_arg ? strdup(int8_arg) : cli_sibling_path(fp32_path, ".int8.onnx");
    char *name = model_name(fp32_path);
    tq_error err = {0};
    tq_model *fp32 = NULL, *int8 = NULL;
    tq_tensor_set data = {0};
    double *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, ca = 0, cb = 0;
    tq_gate_result r;
    int rc = int8_path && name ? TQ_OK : tq_fail(&err, TQ_ENOMEM, "out of memory");
    if (!rc)
        rc = tq_model_load(&fp32, fp32_path, &err);
    if (!rc)
        rc = tq_model_load(&int8, int8_path, &err);
    if (!rc && data_path)
        rc = tq_npz_read(data_path, &data, &err);
    if (!rc && data_path) {
        rc = tq_gate_set_outputs(fp32, &data, data_path, &a, &na, &ca, &err);
        if (!rc)
            rc = tq_gate_set_outputs(int8, &data, data_path, &b, &nb, &cb, &err);
    } else if (!rc) {
        rc = tq_gate_synthetic_outputs(fp32, &a, &na, &err);
        if (!rc)
            rc = tq_gate_synthetic_outputs(int8, &b, &nb, &err);
    }
    if (!rc)
        rc = tq_gate_compare(a, na, b, nb, budget, name, &r, &err);
    char task[2][256] = {"", ""};
    double metrics[2][3];
    int is_cls = 0;
    if (!rc && data_path) {
        rc = tq_task_metric(a, na, ca, &data, data_path, task[0], sizeof task[0], metrics[0],
                            &is_cls, &err);
        if (!rc)
            rc = tq_task_metric(b, nb, cb, &data, data_path, task[1], sizeof task[1], metrics[1],
                                &is_cls, &err);
    }
    int exit_code = EXIT_OK;
    if (rc) {
        exit_code = cli_report(&err);
    } else {
        const char *mode = tq_model_quant_mode_guess(int8);
        char line[512];
        tq_gate_format(line, sizeof line, name, mode, &r);
        printf("%s\n", line);
        if (data_path) {
            printf("  task fp32: %s\n  task int8: %s\n", task[0], task[1]);
        }
        exit_code = r.pass ? EXIT_OK : EXIT_CHECK;
        if (json_path) {
            cJSON *results = NULL;
            cJSON *report = gate_report_new(argc, argv, &results);
            cJSON *o = report ? gate_report_add(results, name, mode, r.pass ? "pass" : "fail",
                                                &r, fp32_path, int8_path, NULL)
                              : NULL;
            if (o && data_path) {
                cJSON *t = cJSON_AddObjectToObject(o, "task_metric");
                cJSON_AddStringToObject(t, "data", data_path);
                cJSON_AddStringToObject(t, "metric", is_cls ? "top1" : "plcc_srocc_rmse");
                const char *which[2] = {"fp32", "int8"};
                for (int k = 0; k < 2; k++) {
                    cJSON *m = cJSON_AddObjectToObject(t, which[k]);
                    if (is_cls)
                        cJSON_AddNumberToObject(m, "top1", metrics[k][0]);
                    else {
                        cJSON_AddNumberToObject(m, "plcc", metrics[k][0]);
                        cJSON_AddNumberToObject(m, "srocc", metrics[k][1]);
                        cJSON_AddNumberToObject(m, "rmse", metrics[k][2]);
                    }
                }
            }
            if (!report || gate_report_write(report, json_path))
                exit_code = EXIT_USAGE;
            cJSON_Delete(report);
        }
    }
    free(a);
    free(b);
    tq_tensor_set_free(&data);
    tq_model_free(&fp32);
    tq_model_free(&int8);
    free(int8_path);
    free(name);
    return exit_code;
}
