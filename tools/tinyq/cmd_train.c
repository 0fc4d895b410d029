/* `tinyq train fr-regressor ...`: a thin caller of tq_train_fr_regressor
 * (include/tinyq/train.h), which does all the work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "tinyq/train.h"
#include "util/provenance.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq train fr-regressor (--corpus C.jsonl | --csv T.csv | --smoke)\n"
            "         -o MODEL.onnx [--codec-aware] [--seed S] [--epochs N] [--hidden 32,16]\n"
            "         [--lr LR] [--batch N] [--weight-decay WD] [--folds K] [--target COL]\n"
            "         [--group COL] [--ship-plcc P] [--report-out R.json] [--registry REG]\n\n"
            "Trains the feature-vector regressor (Gemm/ReLU MLP, Adam on MSE, double\n"
            "precision, deterministic for a seed) and writes MODEL.onnx (opset 17, dynamic\n"
            "batch, output `score`) and its sidecar MODEL.json (StandardScaler, feature\n"
            "names, codec-block layout). The scaler is applied by the registry loader.\n\n"
            "  --corpus C.jsonl  one JSON object per line: source, encoder, preset, crf,\n"
            "                    bitrate_kbps, vmaf_score, adm2, vif_scale0..3, motion2\n"
            "  --codec-aware     v2: second input `codec` [batch, 14] (11 encoders + unknown\n"
            "                    one-hot, preset_norm, crf_norm), concatenated in the graph\n"
            "  --smoke           train on 100 built-in deterministic rows (CI path); a smoke\n"
            "                    model is always registered, with smoke: true\n"
            "  --csv T.csv       a numeric table with a header row instead of a corpus\n"
            "  --target COL      the CSV column to predict (default: the last one)\n"
            "  --group COL       CSV column of group names: leave-one-group-out folds\n"
            "  --folds K         k-fold when there are no sources/groups (default 5)\n"
            "  --seed S          weights and mini-batch order (default 0)\n"
            "  --epochs N        default 300;  --batch N  default 16\n"
            "  --hidden LIST     hidden widths, e.g. 32,16 (default)\n"
            "  --lr LR           Adam step (default 0.003); --weight-decay WD (default 1e-4)\n"
            "  --ship-plcc P     the model ships when the mean fold PLCC >= P (default 0.95)\n"
            "  --registry REG    register MODEL in REG (created if missing; MODEL must be in\n"
            "                    REG's folder) when it ships; exit 1 when it does not\n"
            "  --report-out R    JSON report: folds, PLCC mean/std, run_provenance\n\n"
            "Validation is leave-one-source-out over the corpus' `source` values (k-fold\n"
            "when there is only one); the shipped weights are trained on every row.\n");
}

static void print_line(void *user, const char *line)
{
    (void)user;
    printf("%s\n", line);
    fflush(stdout);
}

static int parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end == s || *end;
}

static int parse_hidden(const char *s, tq_train_settings *ts)
{
    ts->n_hidden = 0;
    if (!strcmp(s, "none") || !s[0])
        return 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 4096 || ts->n_hidden == TQ_TRAIN_MAX_HIDDEN)
            return -1;
        ts->hidden[ts->n_hidden++] = (int)v;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return 0;
}

int cmd_train(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "fr-regressor") != 0)
        return cli_usage_error("train", "the only trainer is 'fr-regressor' (got '%s')",
                               argc < 2 ? "" : argv[1]);
    tq_train_settings s;
    tq_train_default_settings(&s);
    static const char *const valued[] = {"--corpus", "--csv", "--target", "--group", "-o",
                                         "--seed", "--epochs", "--batch", "--hidden", "--lr",
                                         "--weight-decay", "--folds", "--ship-plcc",
                                         "--report-out", "--registry", NULL};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int needs = 0;
        for (int k = 0; valued[k]; k++)
            needs |= !strcmp(a, valued[k]);
        if (needs && i + 1 >= argc)
            return cli_usage_error("train", "option '%s' needs a value", a);
        const char *v = needs ? argv[++i] : NULL;
        long n;
        if (!strcmp(a, "--corpus"))
            s.corpus_path = v;
        else if (!strcmp(a, "--csv"))
            s.csv_path = v;
        else if (!strcmp(a, "--target"))
            s.csv_target = v;
        else if (!strcmp(a, "--group"))
            s.csv_group = v;
        else if (!strcmp(a, "-o"))
            s.output_path = v;
        else if (!strcmp(a, "--report-out"))
            s.report_path = v;
        else if (!strcmp(a, "--registry"))
            s.registry_path = v;
        else if (!strcmp(a, "--codec-aware"))
            s.codec_aware = 1;
        else if (!strcmp(a, "--smoke"))
            s.smoke = 1;
        else if (!strcmp(a, "--seed")) {
            if (cli_parse_int(v, 0, 2147483647L, &n))
                return cli_usage_error("train", "--seed '%s' must be an integer >= 0", v);
            s.seed = (uint64_t)n;
        } else if (!strcmp(a, "--epochs")) {
            if (cli_parse_int(v, 1, 1000000, &n))
                return cli_usage_error("train", "--epochs '%s' must be an integer >= 1", v);
            s.epochs = (int)n;
        } else if (!strcmp(a, "--batch")) {
            if (cli_parse_int(v, 1, 1 << 20, &n))
                return cli_usage_error("train", "--batch '%s' must be an integer >= 1", v);
            s.batch_size = (int)n;
        } else if (!strcmp(a, "--folds")) {
            if (cli_parse_int(v, 2, 1000, &n))
                return cli_usage_error("train", "--folds '%s' must be an integer in 2..1000", v);
            s.folds = (int)n;
        } else if (!strcmp(a, "--hidden")) {
            if (parse_hidden(v, &s))
                return cli_usage_error("train", "--hidden '%s' must be up to %d comma-separated "
                                       "widths in 1..4096 (or 'none')", v, TQ_TRAIN_MAX_HIDDEN);
        } else if (!strcmp(a, "--lr")) {
            if (parse_double(v, &s.lr) || !(s.lr > 0 && s.lr < 10))
                return cli_usage_error("train", "--lr '%s' must be a number in (0, 10)", v);
        } else if (!strcmp(a, "--weight-decay")) {
            if (parse_double(v, &s.weight_decay) || !(s.weight_decay >= 0 && s.weight_decay < 10))
                return cli_usage_error("train", "--weight-decay '%s' must be a number in [0, 10)", v);
        } else if (!strcmp(a, "--ship-plcc")) {
            if (parse_double(v, &s.ship_plcc) || !(s.ship_plcc >= -1 && s.ship_plcc <= 1))
                return cli_usage_error("train", "--ship-plcc '%s' must be a number in [-1, 1]", v);
        } else
            return cli_usage_error("train", "unknown option or extra argument '%s'", a);
    }
    int sources = (s.corpus_path != NULL) + (s.csv_path != NULL) + s.smoke;
    if (sources != 1)
        return cli_usage_error("train", "give exactly one of --corpus, --csv, --smoke");
    if (!s.output_path)
        return cli_usage_error("train", "missing -o MODEL.onnx");
    if ((s.csv_target || s.csv_group) && !s.csv_path)
        return cli_usage_error("train", "--target and --group apply to --csv only");
    /* the command line as typed, for run_provenance */
    char **full = malloc((size_t)(argc + 1) * sizeof *full);
    char *cmdline = NULL;
    if (full) {
        full[0] = "tinyq";
        for (int i = 0; i < argc; i++)
            full[i + 1] = argv[i];
        cmdline = tq_command_line(argc + 1, full);
        free(full);
    }
    s.command_line = cmdline;
    s.log = print_line;
    tq_train_result res;
    tq_error err = {0};
    int rc = tq_train_fr_regressor(&s, &res, &err);
    free(cmdline);
    if (rc)
        return cli_report(&err);
    if (s.registry_path && !res.registered) {
        fprintf(stderr, "tinyq train: %s\n", res.note);
        return EXIT_CHECK;
    }
    return EXIT_OK;
}
