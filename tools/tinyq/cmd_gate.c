/* `tinyq gate [--registry REG] [--all | ID...] [--out-json J]`: the accuracy
 * gate over the registry's non-fp32, non-smoke entries (SPEC §4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gate_report.h"
#include "registry/gate.h"
#include "registry/registry_internal.h"
#include "util/error.h"

#define DEFAULT_REGISTRY "models/tiny/registry.json"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq gate [--registry REG] [--all | ID...] [--out-json J]\n\n"
            "For every selected entry whose quant_mode is not fp32, runs the fp32 model and\n"
            "its <basename>.int8.onnx (both checked against the registry's sha256 /\n"
            "int8_sha256 first) on the deterministic synthetic set -- numpy\n"
            "default_rng(0), 16 samples, each rng.random(shape, float32) with dynamic dims\n"
            "set to 1, run one at a time -- and prints one line per model:\n\n"
            "  [PASS] nr_metric_v1 mode=dynamic PLCC=0.992326 drop=0.007674 budget=0.0100\n\n"
            "PLCC is Pearson's correlation of the concatenated first outputs, drop = 1 -\n"
            "PLCC, pass when drop <= quant_accuracy_budget_plcc (default 0.01).\n"
            "Smoke entries and fp32 entries are skipped ([SKIP] lines).\n\n"
            "  --registry REG  registry file (default %s)\n"
            "  --all           every entry (the default when no ID is given)\n"
            "  --out-json J    also write a JSON report with run_provenance\n\n"
            "Exit codes: 0 all pass, 1 any [FAIL], 2 usage or input error.\n",
            DEFAULT_REGISTRY);
}

typedef struct outcome {
    int fails, errors;
} outcome;

static void gate_entry(const tq_registry *reg, int i, cJSON *results, outcome *oc)
{
    tq_registry_entry e;
    tq_registry_entry_at(reg, i, &e);
    const char *mode = tq_quant_mode_name(e.quant_mode);
    if (e.smoke) {
        printf("[SKIP] %s: smoke entry (load-path probe, not a quality model)\n", e.id);
        gate_report_add(results, e.id, mode, "skip", NULL, NULL, NULL, "smoke entry");
        return;
    }
    if (e.quant_mode == TQ_QUANT_FP32) {
        printf("[SKIP] %s mode=fp32: nothing to gate (the fp32 model ships as is)\n", e.id);
        gate_report_add(results, e.id, mode, "skip", NULL, NULL, NULL, "fp32 entry");
        return;
    }
    tq_error err = {0};
    tq_model *fp32 = NULL, *int8 = NULL;
    char *p32 = NULL, *p8 = NULL;
    double *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    tq_gate_result r;
    int rc = tq_registry_load_pair(reg, i, &fp32, &p32, &int8, &p8, &err);
    if (!rc)
        rc = tq_gate_synthetic_outputs(fp32, &a, &na, &err);
    if (!rc)
        rc = tq_gate_synthetic_outputs(int8, &b, &nb, &err);
    if (!rc)
        rc = tq_gate_compare(a, na, b, nb, e.budget_plcc, e.id, &r, &err);
    if (rc) {
        fprintf(stderr, "tinyq: error: %s\n", err.msg);
        printf("[ERROR] %s mode=%s: could not be gated (see the error above)\n", e.id, mode);
        gate_report_add(results, e.id, mode, "error", NULL, p32, p8, err.msg);
        oc->errors++;
    } else {
        char line[512];
        tq_gate_format(line, sizeof line, e.id, mode, &r);
        printf("%s\n", line);
        gate_report_add(results, e.id, mode, r.pass ? "pass" : "fail", &r, p32, p8, NULL);
        oc->fails += !r.pass;
    }
    fflush(stdout);
    free(a);
    free(b);
    free(p32);
    free(p8);
    tq_model_free(&fp32);
    tq_model_free(&int8);
}

int cmd_gate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *reg_path = DEFAULT_REGISTRY, *json_path = NULL;
    int all = 0, n_ids = 0;
    const char **ids = calloc((size_t)argc + 1, sizeof *ids);
    if (!ids)
        return EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--registry") == 0 && i + 1 < argc)
            reg_path = argv[++i];
        else if (strcmp(argv[i], "--out-json") == 0 && i + 1 < argc)
            json_path = argv[++i];
        else if (strcmp(argv[i], "--all") == 0)
            all = 1;
        else if (argv[i][0] == '-') {
            free(ids);
            return cli_usage_error("gate", "unknown option '%s'", argv[i]);
        } else
            ids[n_ids++] = argv[i];
    }
    if (all && n_ids) {
        free(ids);
        return cli_usage_error("gate", "give --all or IDs, not both");
    }
    tq_error err = {0};
    tq_registry *reg = NULL;
    if (tq_registry_open(&reg, reg_path, &err)) {
        free(ids);
        return cli_report(&err);
    }
    for (int k = 0; k < n_ids; k++)
        if (tq_registry_find(reg, ids[k], &err) < 0) {
            free(ids);
            tq_registry_close(&reg);
            return cli_report(&err);
        }
    cJSON *results = NULL;
    cJSON *report = gate_report_new(argc, argv, &results);
    if (report)
        cJSON_AddStringToObject(report, "registry", reg_path);
    outcome oc = {0};
    if (n_ids) {
        for (int k = 0; k < n_ids; k++)
            gate_entry(reg, tq_registry_find(reg, ids[k], NULL), results, &oc);
    } else {
        for (int i = 0; i < tq_registry_num_entries(reg); i++) {
            tq_registry_entry e;
            tq_registry_entry_at(reg, i, &e);
            if (!e.id) {
                fprintf(stderr, "tinyq: error: %s: entry #%d has no id\n", reg_path, i);
                oc.errors++;
                continue;
            }
            gate_entry(reg, i, results, &oc);
        }
    }
    int rc = oc.errors ? EXIT_USAGE : oc.fails ? EXIT_CHECK : EXIT_OK;
    if (report && json_path) {
        cJSON_AddNumberToObject(report, "exit_code", rc);
        if (gate_report_write(report, json_path))
            rc = EXIT_USAGE;
    }
    cJSON_Delete(report);
    tq_registry_close(&reg);
    free(ids);
    return rc;
}
