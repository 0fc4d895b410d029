/* `tinyq calib build SRC... -o CAL.npz [--n N] [--seed S] [--stratify-key K]
 * [--input-name NAME] [--key K]...`: a calibration set (one [N, ...] stack per
 * model input name) by seeded, optionally stratified sampling, reproducible
 * with numpy (src/data/calib_build.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "data/calib_build.h"
#include "io/npz.h"

#define MAX_KEYS 256

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq calib build SRC... -o CAL.npz [--n N] [--seed S]\n"
            "         [--stratify-key KEY] [--input-name NAME] [--key K]...\n\n"
            "Builds a calibration set: an .npz with one [N, ...] stack per model input\n"
            "name. Sources (rows concatenated in order; all must give the same entries):\n"
            "  .npz    its entries (default: all but 'label', 'target' and the stratify key)\n"
            "  .npy    one array, saved as NAME (--input-name, default 'input')\n"
            "  .csv    header line of column names; the chosen numeric columns form one\n"
            "          float32 [rows, columns] stack named NAME\n"
            "  .jsonl  one object per line; the chosen number / number-array fields,\n"
            "          flattened per row (default: the first row's numeric fields)\n\n"
            "  -o CAL.npz         output (written atomically, deflated)\n"
            "  --n N              samples to keep (default: all)\n"
            "  --seed S           numpy default_rng(S) (default 0)\n"
            "  --stratify-key K   keep each value of K in proportion (largest remainder);\n"
            "                     K itself is not written\n"
            "  --key K            entry / column / field to take (repeatable, or a,b,c)\n"
            "  --input-name NAME  output name for csv/jsonl/npy, or a single npz entry's\n"
            "                     new name (the model's input name)\n\n"
            "Selection, in numpy: rng = np.random.default_rng(S); without strata\n"
            "np.sort(rng.permutation(total)[:N]); see docs/QUANTIZATION.md for strata.\n"
            "Exit codes: 0 success, 2 usage or input error (missing key, ragged rows, NaN).\n");
}

static int build(int argc, char **argv)
{
    const char *sources[MAX_KEYS], *keys[MAX_KEYS], *out_path = NULL;
    char *key_store[MAX_KEYS];
    int n_sources = 0, n_keys = 0, n_store = 0;
    tq_calib_build_options o = {0};
    long v;
    int exit_code = EXIT_OK;
    for (int i = 1; i < argc && exit_code == EXIT_OK; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "-o") && has)
            out_path = argv[++i];
        else if (!strcmp(a, "--n") && has) {
            if (cli_parse_int(argv[++i], 1, 1L << 40, &v))
                exit_code = cli_usage_error("calib build", "--n needs a positive integer, got '%s'",
                                            argv[i]);
            o.n = v;
        } else if (!strcmp(a, "--seed") && has) {
            if (cli_parse_int(argv[++i], 0, 1L << 62, &v))
                exit_code = cli_usage_error("calib build",
                                            "--seed needs a non-negative integer, got '%s'", argv[i]);
            o.seed = (uint64_t)v;
        } else if (!strcmp(a, "--stratify-key") && has)
            o.stratify_key = argv[++i];
        else if (!strcmp(a, "--input-name") && has)
            o.input_name = argv[++i];
        else if (!strcmp(a, "--key") && has) {
            char *copy = strdup(argv[++i]);
            if (!copy || n_store == MAX_KEYS) {
                free(copy);
                exit_code = cli_usage_error("calib build", "too many --key values");
                break;
            }
            key_store[n_store++] = copy;
            for (char *tok = strtok(copy, ","); tok && n_keys < MAX_KEYS; tok = strtok(NULL, ","))
                keys[n_keys++] = tok;
        } else if (a[0] == '-' && a[1])
            exit_code = cli_usage_error("calib build", "unknown option or missing value '%s'", a);
        else if (n_sources == MAX_KEYS)
            exit_code = cli_usage_error("calib build", "more than %d sources", MAX_KEYS);
        else
            sources[n_sources++] = a;
    }
    if (exit_code == EXIT_OK && !n_sources)
        exit_code = cli_usage_error("calib build", "no source files");
    if (exit_code == EXIT_OK && !out_path)
        exit_code = cli_usage_error("calib build", "missing -o CAL.npz");
    for (int s = 0; exit_code == EXIT_OK && s < n_sources; s++)
        if (cli_same_file(sources[s], out_path))
            exit_code = cli_usage_error("calib build", "-o %s would overwrite a source", out_path);
    if (exit_code == EXIT_OK) {
        o.keys = n_keys ? keys : NULL;
        o.n_keys = n_keys;
        tq_error err = {0};
        tq_tensor_set set = {0};
        tq_calib_build_info info;
        int rc = tq_calib_build(sources, n_sources, &o, &set, &info, &err);
        if (!rc)
            rc = tq_npz_write(out_path, &set, 1, &err);
        if (rc)
            exit_code = cli_report(&err);
        else {
            printf("%s: %lld of %lld samples", out_path, (long long)info.n, (long long)info.total);
            if (o.stratify_key)
                printf(", stratified by '%s' (%d classes)", o.stratify_key, info.n_classes);
            printf(", seed %llu\n", (unsigned long long)o.seed);
            for (int i = 0; i < set.n; i++) {
                const tq_tensor *t = &set.t[i];
                printf("  %s %s [", t->name, tq_dtype_name(t->dtype));
                for (int d = 0; d < t->rank; d++)
                    printf("%s%lld", d ? ", " : "", (long long)t->dims[d]);
                printf("]\n");
            }
        }
        tq_tensor_set_free(&set);
    }
    for (int k = 0; k < n_store; k++)
        free(key_store[k]);
    return exit_code;
}

int cmd_calib(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("calib", "missing subcommand (expected 'build')");
    if (strcmp(argv[1], "build") != 0)
        return cli_usage_error("calib", "unknown subcommand '%s' (expected 'build')", argv[1]);
    return build(argc - 1, argv + 1);
}
