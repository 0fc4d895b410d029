/* `tinyq quantize MODEL --mode dynamic|static ...`: a thin caller of
 * tq_quantize_file (include/tinyq/quantize.h), which does all the work;
 * `--registry REG --id ID` quantises a registry entry (quantize_registry.c). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "quantize_registry.h"
#include "tinyq/quantize.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq quantize MODEL.onnx [--mode dynamic|static] [--calibration CAL.npz]\n"
            "         [--method minmax|entropy|percentile] [--percentile P] [--per-channel]\n"
            "         [--activation-type int8|uint8] [--op-types Conv,MatMul,...]\n"
            "         [--exclude NODE...] [--calib-batch N] [-o OUT.onnx] [--report-out R.json]\n"
            "       tinyq quantize --registry REG --id ID [the options above except -o]\n\n"
            "Writes an int8 model (default MODEL.int8.onnx beside the input; the input is\n"
            "never modified, the output appears atomically).\n\n"
            "  --mode dynamic    int8 symmetric weights, activations quantised at run time\n"
            "                    (DynamicQuantizeLinear + MatMulInteger/ConvInteger). Default.\n"
            "  --mode static     QDQ graph calibrated on --calibration CAL.npz (one [N, ...]\n"
            "                    stack per model input name); int32 bias.\n"
            "  --method M        calibration: minmax (default), entropy (KL, 2048-bin\n"
            "                    histogram), percentile (--percentile, default 99.999)\n"
            "  --per-channel     one weight scale per output channel\n"
            "  --activation-type static activations: int8 (default) or uint8\n"
            "  --op-types LIST   op types to quantise (default Conv,ConvTranspose,Gemm,MatMul)\n"
            "  --exclude NODE... node names left in fp32 (put MODEL before --exclude)\n"
            "  --calib-batch N   samples per calibration run (default 16)\n"
            "  -o OUT            output file\n"
            "  --report-out R    JSON report: sizes, settings, calibration, run_provenance\n\n"
            "With --registry REG --id ID: quantises the entry's fp32 file (after checking it\n"
            "against the entry's sha256) to its <basename>.int8.onnx and records quant_mode,\n"
            "int8_sha256 and, for static, quant_calibration_set in REG (rewritten atomically;\n"
            "other fields keep their values and order). --mode defaults to the entry's\n"
            "quant_mode (dynamic for fp32 entries); static without --calibration uses the\n"
            "entry's quant_calibration_set. On failure REG and the int8 file are unchanged.\n");
}

/* Split "a,b,c" into argv-style pointers into a malloc'ed copy. */
static int split_list(const char *s, char **store, const char ***items, int *n)
{
    char *copy = strdup(s);
    const char **arr = calloc(strlen(s) / 2 + 2, sizeof(char *));
    if (!copy || !arr) {
        free(copy);
        free(arr);
        return -1;
    }
    int k = 0;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
        arr[k++] = tok;
    *store = copy;
    *items = arr;
    *n = k;
    return 0;
}

static char *join_command_line(int argc, char **argv)
{
    size_t len = strlen("tinyq") + 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) * 2 + 3;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "tinyq");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        bool quote = argv[i][0] == '\0' || strpbrk(argv[i], " \t\"'") != NULL;
        if (quote)
            strcat(s, "'");
        strcat(s, argv[i]);
        if (quote)
            strcat(s, "'");
    }
    return s;
}

static void print_summary(const char *in, const char *out, const tq_quant_settings *s,
                          const tq_quant_summary *sum)
{
    printf("%s -> %s: mode=%s%s, %d node%s quantised, %d left fp32, %llu -> %llu bytes "
           "(%.2fx smaller)\n",
           in, out, s->mode == TQ_QUANT_DYNAMIC ? "dynamic" : "static",
           s->per_channel ? " per-channel" : "", sum->n_nodes_quantized,
           sum->n_nodes_quantized == 1 ? "" : "s", sum->n_nodes_skipped,
           (unsigned long long)sum->fp32_bytes, (unsigned long long)sum->int8_bytes,
           sum->int8_bytes ? (double)sum->fp32_bytes / (double)sum->int8_bytes : 0.0);
}

/* --registry REG --id ID: the entry's fp32 file -> its int8 sibling, recorded in REG. */
static int quantize_registry(const char *registry, const char *id, int mode_given,
                             tq_quant_settings *s, const char *cal, const char *report,
                             const char **excl, int n_excl, const char **ops, int n_ops,
                             int argc, char **argv)
{
    s->exclude_nodes = excl;
    s->n_exclude_nodes = n_excl;
    s->op_types = ops;
    s->n_op_types = n_ops;
    char *cmdline = join_command_line(argc, argv);
    quantize_registry_job job = {.registry = registry, .id = id, .mode_given = mode_given,
                                 .calibration = cal, .report = report, .command_line = cmdline};
    tq_error err = {0};
    tq_quant_summary sum;
    char *int8 = NULL;
    int rc = quantize_registry_entry(&job, s, &sum, &int8, &err);
    if (rc) {
        rc = cli_report(&err);
    } else {
        print_summary(id, int8, s, &sum);
        printf("%s: entry '%s' updated (quant_mode=%s, int8_sha256)\n", registry, id,
               s->mode == TQ_QUANT_DYNAMIC ? "dynamic" : "static");
    }
    free(int8);
    free(cmdline);
    return rc;
}

int cmd_quantize(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    tq_quant_settings s;
    tq_quant_default_settings(&s);
    const char *model = NULL, *out = NULL, *cal = NULL, *report = NULL;
    const char *registry = NULL, *id = NULL;
    int mode_given = 0;
    const char **excl = calloc((size_t)argc + 1, sizeof(char *));
    char *ops_store = NULL;
    const char **ops = NULL;
    int n_ops = 0, n_excl = 0, rc = EXIT_OK;
    if (!excl)
        return cli_usage_error("quantize", "out of memory");
    for (int i = 1; i < argc && rc == EXIT_OK; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool needs_val = strcmp(a, "--mode") == 0 || strcmp(a, "--calibration") == 0 ||
                         strcmp(a, "--method") == 0 || strcmp(a, "--activation-type") == 0 ||
                         strcmp(a, "-o") == 0 || strcmp(a, "--report-out") == 0 ||
                         strcmp(a, "--op-types") == 0 || strcmp(a, "--percentile") == 0 ||
                         strcmp(a, "--calib-batch") == 0 || strcmp(a, "--registry") == 0 ||
                         strcmp(a, "--id") == 0;
        if (needs_val && !val) {
            rc = cli_usage_error("quantize", "option '%s' needs a value", a);
            break;
        }
        if (strcmp(a, "--mode") == 0) {
            i++;
            mode_given = 1;
            if (strcmp(val, "dynamic") == 0)
                s.mode = TQ_QUANT_DYNAMIC;
            else if (strcmp(val, "static") == 0)
                s.mode = TQ_QUANT_STATIC;
            else if (strcmp(val, "qat") == 0)
                rc = cli_usage_error("quantize", "--mode qat is not available in this build "
                                                 "(use dynamic or static)");
            else
                rc = cli_usage_error("quantize", "unknown --mode '%s' (dynamic, static, qat)", val);
        } else if (strcmp(a, "--calibration") == 0) {
            cal = argv[++i];
        } else if (strcmp(a, "--method") == 0) {
            i++;
            if (strcmp(val, "minmax") == 0)
                s.method = TQ_CALIB_MINMAX;
            else if (strcmp(val, "entropy") == 0)
                s.method = TQ_CALIB_ENTROPY;
            else if (strcmp(val, "percentile") == 0)
                s.method = TQ_CALIB_PERCENTILE;
            else
                rc = cli_usage_error("quantize", "unknown --method '%s' (minmax, entropy, percentile)", val);
        } else if (strcmp(a, "--percentile") == 0) {
            char *end;
            s.percentile = strtod(argv[++i], &end);
            if (*end || end == val || !(s.percentile > 0 && s.percentile <= 100))
                rc = cli_usage_error("quantize", "--percentile '%s' must be a number in (0, 100]", val);
        } else if (strcmp(a, "--calib-batch") == 0) {
            long v;
            if (cli_parse_int(argv[++i], 1, 1 << 20, &v))
                rc = cli_usage_error("quantize", "--calib-batch '%s' must be an integer >= 1", val);
            s.calib_batch = (int)v;
        } else if (strcmp(a, "--per-channel") == 0) {
            s.per_channel = 1;
        } else if (strcmp(a, "--activation-type") == 0) {
            i++;
            if (strcmp(val, "int8") == 0)
                s.activation_type = TQ_INT8;
            else if (strcmp(val, "uint8") == 0)
                s.activation_type = TQ_UINT8;
            else
                rc = cli_usage_error("quantize", "--activation-type '%s' must be int8 or uint8", val);
        } else if (strcmp(a, "--op-types") == 0) {
            i++;
            free(ops_store);
            free(ops);
            if (split_list(val, &ops_store, &ops, &n_ops))
                rc = cli_usage_error("quantize", "out of memory");
        } else if (strcmp(a, "--exclude") == 0) {
            /* NODE... : every following word that is not an option (also a,b). */
            int taken = 0;
            while (i + 1 < argc && argv[i + 1][0] != '-') {
                excl[n_excl++] = argv[++i];
                taken++;
            }
            if (!taken)
                rc = cli_usage_error("quantize", "--exclude needs at least one node name");
        } else if (strcmp(a, "--registry") == 0) {
            registry = argv[++i];
        } else if (strcmp(a, "--id") == 0) {
            id = argv[++i];
        } else if (strcmp(a, "-o") == 0) {
            out = argv[++i];
        } else if (strcmp(a, "--report-out") == 0) {
            report = argv[++i];
        } else if (a[0] == '-') {
            rc = cli_usage_error("quantize", "unknown option '%s'", a);
        } else if (!model) {
            model = a;
        } else {
            rc = cli_usage_error("quantize", "one model at a time ('%s' is extra)", a);
        }
    }
    if (rc == EXIT_OK && (registry || id)) {
        if (!registry || !id)
            rc = cli_usage_error("quantize", "--registry and --id go together");
        else if (model)
            rc = cli_usage_error("quantize", "give MODEL.onnx or --registry/--id, not both");
        else if (out)
            rc = cli_usage_error("quantize", "-o does not apply to --registry: the output is "
                                             "the entry's <basename>.int8.onnx");
        if (rc == EXIT_OK)
            rc = quantize_registry(registry, id, mode_given, &s, cal, report, excl, n_excl, ops,
                                   n_ops, argc, argv);
        free(excl);
        free(ops);
        free(ops_store);
        return rc;
    }
    if (rc == EXIT_OK && !model)
        rc = cli_usage_error("quantize", "missing MODEL.onnx");
    if (rc == EXIT_OK && s.mode == TQ_QUANT_STATIC && !cal)
        rc = cli_usage_error("quantize", "--mode static needs --calibration CAL.npz");
    if (rc == EXIT_OK && s.mode == TQ_QUANT_DYNAMIC && cal)
        rc = cli_usage_error("quantize", "--calibration is only used by --mode static");
    if (rc == EXIT_OK) {
        s.exclude_nodes = excl;
        s.n_exclude_nodes = n_excl;
        s.op_types = ops;
        s.n_op_types = n_ops;
        char *cmdline = join_command_line(argc, argv);
        char *def_out = out ? NULL : tq_quant_default_output(model);
        tq_error err = {0};
        tq_quant_summary sum;
        int r = tq_quantize_file(model, out, &s, cal, report, cmdline, &sum, &err);
        if (r) {
            rc = cli_report(&err);
        } else {
            print_summary(model, out ? out : def_out, &s, &sum);
        }
        free(cmdline);
        free(def_out);
    }
    free(excl);
    free(ops);
    free(ops_store);
    return rc;
}
