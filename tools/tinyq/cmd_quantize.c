/* `tinyq quantize MODEL --mode dynamic|static|qat|auto ...`: a thin caller of
 * tq_quantize_file / tq_quantize_auto_file (include/tinyq/quantize.h), which
 * do all the work; `--registry REG --id ID` quantises a registry entry
 * (quantize_registry.c). `--config FILE.yaml` supplies the same options as a
 * flat YAML mapping (read with libyaml); the command line wins. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "cli.h"
#include "cli_util.h"
#include "quantize_registry.h"
#include "tinyq/quantize.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq quantize MODEL.onnx [--mode dynamic|static|qat|auto] [--calibration CAL.npz]\n"
            "         [--method minmax|entropy|percentile|mse] [--percentile P] [--per-channel]\n"
            "         [--float-outputs] [--equalize [--equalize-alpha A] [--equalize-alpha-layers A]]\n"
            "         [--per-channel-activations]\n"
            "         [--activation-type int8|uint8] [--reduce-range] [--op-types Conv,MatMul,...]\n"
            "         [--exclude NODE...] [--calib-batch N] [-o OUT.onnx] [--report-out R.json]\n"
            "       tinyq quantize --registry REG --id ID [the options above except -o]\n"
            "         (--mode auto then measures against the entry's quant_accuracy_budget_plcc)\n\n"
            "Writes an int8 model (default MODEL.int8.onnx beside the input; the input is\n"
            "never modified, the output appears atomically).\n\n"
            "  --mode dynamic    int8 symmetric weights, activations quantised at run time\n"
            "                    (DynamicQuantizeLinear + MatMulInteger/ConvInteger). Default.\n"
            "  --mode static     QDQ graph calibrated on --calibration CAL.npz (one [N, ...]\n"
            "                    stack per model input name); int32 bias.\n"
            "  --mode qat        fine-tune the fp32 weights through fake quantisation on\n"
            "                    --train DATA.npz (targets: its `target` (MSE) or `label`\n"
            "                    (cross-entropy); neither: the fp32 model is the teacher),\n"
            "                    then export like static. The fake quantisation trains\n"
            "                    with the export's activation ranges (--method and the\n"
            "                    options below, on --calibration, else on --n-calibration\n"
            "                    samples of DATA.npz), calibrated once before training\n"
            "                    and written to the exported file as they are\n"
            "  --mode auto       try dynamic, static, qat in that order; keep the first whose\n"
            "                    gate drop (SPEC 4 synthetic-set PLCC) and, with --data, task\n"
            "                    metric drop stay inside --budget B (default 0.01)\n"
            "  --train DATA.npz  qat training set        --epochs-qat N (10)\n"
            "  --lr-qat LR       (1e-4 Adam, = 1e-3/10)  --batch-qat N (32)\n"
            "  --optimizer adam|sgd  --seed S (0)        --n-calibration N (64)\n"
            "  --qat-centered    MSE objectives (target or teacher): remove the error's\n"
            "                    batch mean first, so a constant output offset (which a\n"
            "                    PLCC gate ignores) costs nothing\n"
            "  --qat-recalibrate qat: the export calibrates again on the trained model\n"
            "                    (same data and method) instead of writing the ranges the\n"
            "                    training used\n"
            "  --smoke           qat: one epoch over at most 64 samples (CI)\n"
            "  --budget B        auto: allowed drop      --data D.npz  auto: evaluation set\n"
            "  --config F.yaml   the options above as YAML keys (e.g. `epochs-qat: 5`,\n"
            "                    `per-channel: true`); command-line options win\n"
            "  --method M        calibration: minmax (default), entropy (KL, 2048-bin\n"
            "                    histogram), percentile (--percentile, default 99.999),\n"
            "                    mse (the clipping threshold with the least estimated\n"
            "                    quantisation MSE on the same histogram; graph outputs\n"
            "                    keep their MinMax range)\n"
            "  --per-channel     one weight scale per output channel\n"
            "  --float-outputs   static/qat: Q/DQ only on the inputs of quantised nodes,\n"
            "                    read only by them: outputs and skip paths stay float, as\n"
            "                    in the dynamic graph; weights stay int8 (cf. ORT's\n"
            "                    OpTypesToExcludeOutputQuantization)\n"
            "  --equalize        static/qat: before calibrating (and before qat's training),\n"
            "                    rescale channels so the channels of each quantised node's\n"
            "                    input span comparable ranges under its one activation\n"
            "                    scale; the consumer's weights (one scale per output\n"
            "                    channel, levels to spare) take the inverse factor, so the\n"
            "                    fp32 function is unchanged. Sites: an input standardised\n"
            "                    in the graph (Sub mean -> Div std -> Gemm/Conv: the factor\n"
            "                    folds into std, and the Sub's mean and the bias centre\n"
            "                    each feature), and Conv/Gemm -> (Relu) -> Conv/Gemm chains\n"
            "                    with one reader per tensor (cross-layer equalisation).\n"
            "                    Channel j's factor: max|x_j|^A / max|W[:,j]|^(1-A)\n"
            "                    (SmoothQuant) over the calibration set\n"
            "  --per-channel-activations static/qat: the activation input of every\n"
            "                    quantised node gets one scale and zero point per channel\n"
            "                    (per-axis Q/DQ: Conv axis 1, Gemm the feature axis),\n"
            "                    each channel calibrated by --method on its own\n"
            "                    statistics (qat trains with them); that node's bias stays\n"
            "                    float. Standard ONNX; ONNX Runtime and tinyq run those\n"
            "                    layers as dequantise -> float op. Inputs ONNX Runtime would\n"
            "                    fuse into an integer op that rejects per-axis parameters\n"
            "                    stay per tensor (MatMul inputs; a Conv whose output is\n"
            "                    quantised right after it, and that output)\n"
            "  --equalize-alpha A        A for standardised inputs, in (0, 1] (0.75)\n"
            "  --equalize-alpha-layers A A for cross-layer chains, in (0, 1] (0.5): lower,\n"
            "                    as a hidden channel's sampled maximum is only an estimate\n"
            "  --activation-type static activations: int8 (default) or uint8\n"
            "  --reduce-range    7-bit weights (int8 in [-64, 64], ONNX Runtime's reduce_range):\n"
            "                    slightly coarser, but exact and fast on AVX2 CPUs without\n"
            "                    VNNI (u8 x s8 vpmaddubsw cannot saturate)\n"
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

/* Read a flat YAML mapping `key: value` into "--key" "value" words (true
 * booleans become a bare "--key", false ones are dropped). */
static int read_config(const char *path, char ***words, int *n_words)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_usage_error("quantize", "%s: cannot open the --config file", path);
    yaml_parser_t p;
    yaml_event_t ev;
    if (!yaml_parser_initialize(&p)) {
        fclose(f);
        return cli_usage_error("quantize", "out of memory");
    }
    yaml_parser_set_input_file(&p, f);
    char **w = NULL;
    int n = 0, depth = 0, rc = EXIT_OK;
    char *key = NULL;
    for (bool done = false; !done && rc == EXIT_OK;) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = cli_usage_error("quantize", "%s: YAML error at line %zu: %s", path,
                                 p.problem_mark.line + 1, p.problem ? p.problem : "parse error");
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
            if (++depth > 1)
                rc = cli_usage_error("quantize", "%s: line %zu: nested mappings are not options",
                                     path, ev.start_mark.line + 1);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = cli_usage_error("quantize", "%s: line %zu: lists are not supported (use a,b)",
                                 path, ev.start_mark.line + 1);
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth != 1) {
                rc = cli_usage_error("quantize", "%s: expected a mapping of options", path);
            } else if (!key) {
                key = strdup(v);
                for (char *c = key; c && *c; c++)
                    if (*c == '_')
                        *c = '-';
            } else {
                char **nw = realloc(w, (size_t)(n + 2) * sizeof(char *));
                if (nw)
                    w = nw;
                if (!nw || !key) {
                    rc = cli_usage_error("quantize", "out of memory");
                    break;
                }
                w = nw;
                bool t = strcmp(v, "true") == 0 || strcmp(v, "yes") == 0;
                bool fl = strcmp(v, "false") == 0 || strcmp(v, "no") == 0;
                if (!fl) {
                    char *opt = malloc(strlen(key) + 3);
                    if (opt)
                        sprintf(opt, "--%s", key);
                    w[n++] = opt;
                    if (!t)
                        w[n++] = strdup(v);
                }
                free(key);
                key = NULL;
            }
            break;
        }
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    free(key);
    yaml_parser_delete(&p);
    fclose(f);
    for (int i = 0; i < n && rc == EXIT_OK; i++)
        if (!w[i])
            rc = cli_usage_error("quantize", "out of memory");
    if (rc != EXIT_OK) {
        for (int i = 0; i < n; i++)
            free(w[i]);
        free(w);
        return rc;
    }
    *words = w;
    *n_words = n;
    return EXIT_OK;
}

static void print_summary(const char *in, const char *out, const tq_quant_settings *s,
                          const tq_quant_summary *sum)
{
    printf("%s -> %s: mode=%s%s%s%s, %d node%s quantised, %d left fp32, %llu -> %llu bytes "
           "(%.2fx smaller)\n",
           in, out, s->mode == TQ_QUANT_DYNAMIC ? "dynamic" : s->mode == TQ_QUANT_QAT ? "qat" : "static",
           s->per_channel ? " per-channel" : "", s->reduce_range ? " reduce-range" : "",
           s->mode != TQ_QUANT_DYNAMIC && s->per_channel_activations ? " per-channel-activations"
                                                                     : "",
           sum->n_nodes_quantized,
           sum->n_nodes_quantized == 1 ? "" : "s", sum->n_nodes_skipped,
           (unsigned long long)sum->fp32_bytes, (unsigned long long)sum->int8_bytes,
           sum->int8_bytes ? (double)sum->fp32_bytes / (double)sum->int8_bytes : 0.0);
}

/* --registry REG --id ID: the entry's fp32 file -> its int8 sibling, recorded in REG. */
static void print_auto(const tq_auto_settings *a);

static int quantize_registry(const char *registry, const char *id, int mode_given,
                             tq_quant_settings *s, tq_auto_settings *au, int budget_given,
                             const char *cal, const char *report, const char **excl, int n_excl,
                             const char **ops, int n_ops, int argc, char **argv)
{
    s->exclude_nodes = excl;
    s->n_exclude_nodes = n_excl;
    s->op_types = ops;
    s->n_op_types = n_ops;
    char *cmdline = cli_command_line(argc, argv);
    quantize_registry_job job = {.registry = registry, .id = id, .mode_given = mode_given,
                                 .calibration = cal, .report = report, .command_line = cmdline,
                                 .auto_settings = au, .budget_given = budget_given};
    tq_error err = {0};
    tq_quant_summary sum;
    char *int8 = NULL;
    int rc = quantize_registry_entry(&job, s, &sum, &int8, &err);
    if (au)
        print_auto(au);
    if (rc) {
        rc = cli_report(&err);
    } else {
        print_summary(id, int8, s, &sum);
        printf("%s: entry '%s' updated (quant_mode=%s, int8_sha256)\n", registry, id,
               tq_quant_mode_name(s->mode));
    }
    free(int8);
    free(cmdline);
    return rc;
}

static int parse_double(const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= lo && d <= hi))
        return -1;
    *out = d;
    return 0;
}

/* --mode auto: report each trial and the choice. */
static void print_auto(const tq_auto_settings *a)
{
    static const char *names[] = {"dynamic", "static", "qat"};
    for (int i = 0; i < 3; i++) {
        const tq_auto_trial *t = &a->trials[i];
        if (t->tried && strncmp(t->why, "failed", 6) != 0) {
            printf("auto: %-7s PLCC=%.6f drop=%.6f", names[i], t->plcc, t->drop);
            if (t->has_task)
                printf(" task=%.6f (fp32 %.6f, drop %.6f)", t->task_int8, t->task_fp32,
                       t->task_drop);
            printf(" %s (%s)\n", t->pass ? "PASS" : "FAIL", t->why);
        } else {
            printf("auto: %-7s %s\n", names[i], t->why);
        }
    }
}

static int run_quantize(int argc, char **argv, int user_argc, char **user_argv)
{
    tq_quant_settings s;
    tq_quant_default_settings(&s);
    tq_qat_settings qat;
    tq_qat_default_settings(&qat);
    tq_auto_settings au;
    memset(&au, 0, sizeof(au));
    au.budget = 0.01;
    int is_auto = 0, lr_given = 0, budget_given = 0;
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
                         strcmp(a, "--id") == 0 || strcmp(a, "--train") == 0 ||
                         strcmp(a, "--epochs-qat") == 0 || strcmp(a, "--lr-qat") == 0 ||
                         strcmp(a, "--n-calibration") == 0 || strcmp(a, "--batch-qat") == 0 ||
                         strcmp(a, "--optimizer") == 0 || strcmp(a, "--seed") == 0 ||
                         strcmp(a, "--budget") == 0 || strcmp(a, "--data") == 0 ||
                         strcmp(a, "--max-train") == 0 || strcmp(a, "--equalize-alpha") == 0 ||
                         strcmp(a, "--equalize-alpha-layers") == 0;
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
                s.mode = TQ_QUANT_QAT;
            else if (strcmp(val, "auto") == 0)
                is_auto = 1;
            else
                rc = cli_usage_error("quantize", "unknown --mode '%s' (dynamic, static, qat, auto)",
                                     val);
            if (strcmp(val, "auto") != 0)
                is_auto = 0;
        } else if (strcmp(a, "--train") == 0) {
            qat.train_npz = argv[++i];
        } else if (strcmp(a, "--data") == 0) {
            au.data = argv[++i];
        } else if (strcmp(a, "--epochs-qat") == 0 || strcmp(a, "--n-calibration") == 0 ||
                   strcmp(a, "--batch-qat") == 0 || strcmp(a, "--max-train") == 0) {
            long v;
            bool epochs = strcmp(a, "--epochs-qat") == 0;
            if (cli_parse_int(argv[++i], epochs ? 0 : 1, epochs ? TQ_QAT_MAX_EPOCHS : 1 << 30, &v))
                rc = cli_usage_error("quantize", "%s '%s' must be an integer %s", a, val,
                                     epochs ? "in 0..1000" : ">= 1");
            else if (epochs)
                qat.epochs = (int)v;
            else if (strcmp(a, "--batch-qat") == 0)
                qat.batch = (int)v;
            else if (strcmp(a, "--max-train") == 0)
                qat.max_train = v;
            else
                qat.n_calibration = (int)v;
        } else if (strcmp(a, "--lr-qat") == 0) {
            lr_given = 1;
            if (parse_double(argv[++i], 0.0, 1.0, &qat.lr))
                rc = cli_usage_error("quantize", "--lr-qat '%s' must be a number in [0, 1]", val);
        } else if (strcmp(a, "--budget") == 0) {
            budget_given = 1;
            if (parse_double(argv[++i], 0.0, 1.0, &au.budget))
                rc = cli_usage_error("quantize", "--budget '%s' must be a number in [0, 1]", val);
        } else if (strcmp(a, "--seed") == 0) {
            long v;
            if (cli_parse_int(argv[++i], 0, 0x7fffffffL, &v))
                rc = cli_usage_error("quantize", "--seed '%s' must be a non-negative integer", val);
            qat.seed = (uint64_t)v;
        } else if (strcmp(a, "--optimizer") == 0) {
            i++;
            if (strcmp(val, "adam") == 0)
                qat.optimizer = TQ_QAT_ADAM;
            else if (strcmp(val, "sgd") == 0)
                qat.optimizer = TQ_QAT_SGD;
            else
                rc = cli_usage_error("quantize", "--optimizer '%s' must be adam or sgd", val);
        } else if (strcmp(a, "--smoke") == 0) {
            qat.smoke = 1;
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
            else if (strcmp(val, "mse") == 0)
                s.method = TQ_CALIB_MSE;
            else
                rc = cli_usage_error("quantize", "unknown --method '%s' (minmax, entropy, percentile, mse)", val);
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
        } else if (strcmp(a, "--reduce-range") == 0) {
            s.reduce_range = 1;
        } else if (strcmp(a, "--float-outputs") == 0) {
            s.float_outputs = 1;
        } else if (strcmp(a, "--equalize") == 0) {
            s.equalize = 1;
        } else if (strcmp(a, "--per-channel-activations") == 0) {
            s.per_channel_activations = 1;
        } else if (strcmp(a, "--equalize-alpha") == 0 || strcmp(a, "--equalize-alpha-layers") == 0) {
            double v;
            if (parse_double(argv[++i], 0.0, 1.0, &v) || v <= 0.0)
                rc = cli_usage_error("quantize", "%s '%s' must be a number in (0, 1]", a, val);
            else if (strcmp(a, "--equalize-alpha") == 0)
                s.equalize_alpha_input = (float)v;
            else
                s.equalize_alpha_layers = (float)v;
        } else if (strcmp(a, "--qat-centered") == 0) {
            qat.centered = 1;
        } else if (strcmp(a, "--qat-recalibrate") == 0) {
            qat.recalibrate = 1;
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
    if (!lr_given && qat.optimizer == TQ_QAT_SGD)
        qat.lr = 1e-3; /* SGD's usual 1e-2 / 10 */
    s.qat = &qat;
    if (rc == EXIT_OK && (registry || id)) {
        if (!registry || !id)
            rc = cli_usage_error("quantize", "--registry and --id go together");
        else if (model)
            rc = cli_usage_error("quantize", "give MODEL.onnx or --registry/--id, not both");
        else if (out)
            rc = cli_usage_error("quantize", "-o does not apply to --registry: the output is "
                                             "the entry's <basename>.int8.onnx");
        if (rc == EXIT_OK)
            rc = quantize_registry(registry, id, mode_given, &s, is_auto ? &au : NULL,
                                   budget_given, cal, report, excl, n_excl, ops, n_ops,
                                   user_argc, user_argv);
        free(excl);
        free(ops);
        free(ops_store);
        return rc;
    }
    if (rc == EXIT_OK && !model)
        rc = cli_usage_error("quantize", "missing MODEL.onnx");
    if (rc == EXIT_OK && !is_auto && s.mode == TQ_QUANT_STATIC && !cal)
        rc = cli_usage_error("quantize", "--mode static needs --calibration CAL.npz");
    if (rc == EXIT_OK && !is_auto && s.mode == TQ_QUANT_QAT && !qat.train_npz)
        rc = cli_usage_error("quantize", "--mode qat needs --train DATA.npz");
    if (rc == EXIT_OK && !is_auto && s.mode == TQ_QUANT_DYNAMIC && s.equalize)
        rc = cli_usage_error("quantize", "--equalize is for --mode static or qat (dynamic "
                                         "mode has no calibration ranges to equalise)");
    if (rc == EXIT_OK && !is_auto && s.mode == TQ_QUANT_DYNAMIC && s.per_channel_activations)
        rc = cli_usage_error("quantize", "--per-channel-activations is for --mode static or qat "
                                         "(dynamic mode quantises activations at run time)");
    if (rc == EXIT_OK && !is_auto && s.mode == TQ_QUANT_DYNAMIC && cal)
        rc = cli_usage_error("quantize", "--calibration is only used by --mode static or qat");
    if (rc == EXIT_OK && is_auto) {
        s.exclude_nodes = excl;
        s.n_exclude_nodes = n_excl;
        s.op_types = ops;
        s.n_op_types = n_ops;
        au.calibration = cal;
        char *cmdline = cli_command_line(user_argc, user_argv);
        char *def_out = out ? NULL : tq_quant_default_output(model);
        tq_error err = {0};
        tq_quant_summary sum;
        int r = tq_quantize_auto_file(model, out, &s, &au, report, cmdline, &sum, &err);
        print_auto(&au);
        if (r)
            rc = cli_report(&err);
        else
            print_summary(model, out ? out : def_out, &s, &sum);
        free(cmdline);
        free(def_out);
    } else if (rc == EXIT_OK) {
        s.exclude_nodes = excl;
        s.n_exclude_nodes = n_excl;
        s.op_types = ops;
        s.n_op_types = n_ops;
        char *cmdline = cli_command_line(user_argc, user_argv);
        char *def_out = out ? NULL : tq_quant_default_output(model);
        tq_error err = {0};
        tq_quant_summary sum;
        int r = tq_quantize_file(model, out, &s, cal, report, cmdline, &sum, &err);
        if (r) {
            rc = cli_report(&err);
        } else {
            print_summary(model, out ? out : def_out, &s, &sum);
            if (s.mode == TQ_QUANT_QAT)
                printf("qat: %s, %lld samples, %d epoch%s, %lld steps, loss %.6g (fake quant, "
                       "before) -> %.6g (last epoch), %.1f s\n",
                       qat.objective, (long long)qat.n_train, qat.epochs_run,
                       qat.epochs_run == 1 ? "" : "s", (long long)qat.n_steps, qat.loss_before,
                       qat.epochs_run ? qat.epoch_loss[qat.epochs_run - 1] : qat.loss_before,
                       qat.seconds);
        }
        free(cmdline);
        free(def_out);
    }
    free(excl);
    free(ops);
    free(ops_store);
    return rc;
}

int cmd_quantize(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    /* --config FILE: its options go first, so the command line overrides them. */
    const char *config = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 >= argc)
            return cli_usage_error("quantize", "option '--config' needs a value");
    if (!config)
        return run_quantize(argc, argv, argc, argv);
    char **words = NULL;
    int n_words = 0;
    int rc = read_config(config, &words, &n_words);
    if (rc != EXIT_OK)
        return rc;
    char **args = calloc((size_t)(argc + n_words + 1), sizeof(char *));
    if (!args) {
        rc = cli_usage_error("quantize", "out of memory");
    } else {
        int n = 0;
        args[n++] = argv[0];
        for (int i = 0; i < n_words; i++)
            args[n++] = words[i];
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--config") == 0) {
                i++;
                continue;
            }
            args[n++] = argv[i];
        }
        rc = run_quantize(n, args, argc, argv);
    }
    for (int i = 0; i < n_words; i++)
        free(words[i]);
    free(words);
    free(args);
    return rc;
}
