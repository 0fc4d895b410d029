/* `tinyq registry validate [REG] | list [REG] | resolve ID [--registry REG] |
 *  score ID -i IN.npz [-o OUT.npz] [--registry REG] [--encoder E] [--preset P] [--crf C]` */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/npz.h"
#include "tinyq/registry.h"
#include "util/error.h"

#define DEFAULT_REGISTRY "models/tiny/registry.json"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq registry validate [REG]\n"
            "       tinyq registry list [REG]\n"
            "       tinyq registry resolve ID [--registry REG]\n"
            "       tinyq registry score ID -i IN.npz [-o OUT.npz] [--registry REG]\n"
            "                            [--encoder NAME] [--preset P] [--crf N]\n\n"
            "REG defaults to %s (relative to the current directory).\n\n"
            "validate  checks the schema and every file an entry names: model and sidecar\n"
            "          (<basename>.json, required), sha256 / int8_sha256, the int8 sibling of\n"
            "          non-fp32 entries, the calibration set of static entries, ops outside\n"
            "          tinyq's op set, input ranks, and a sidecar scaler that contradicts one\n"
            "          baked into the graph. Prints 'OK: N registry entries valid' or one line\n"
            "          per problem ('<registry>: entry '<id>': <field>: <problem>'), exit 1.\n"
            "          sigstore_bundle files are optional; unknown fields are tolerated.\n"
            "list      one line per entry: kind, quant mode, input kind, who applies the\n"
            "          StandardScaler (loader = sidecar scaler applied by the loader; graph =\n"
            "          baked into the graph, sidecar scaler not re-applied) and the file the\n"
            "          loader opens.\n"
            "resolve   prints the file the loader opens for ID (<basename>.int8.onnx for\n"
            "          non-fp32 modes, <basename>.onnx for fp32).\n"
            "score     scores RAW features (or images) from IN.npz (key = the model's first\n"
            "          input name) through the trust-root loader, scaler applied exactly once;\n"
            "          writes the scores under the output name to OUT.npz, else prints them.\n"
            "          --encoder/--preset/--crf set the codec context of codec-aware models\n"
            "          (default: the 'unknown' encoder slot).\n\n"
            "Exit codes: 0 ok, 1 registry invalid, 2 usage or input error.\n"
            "Example:\n  tinyq registry validate models/tiny/registry.json\n",
            DEFAULT_REGISTRY);
}

static void print_problem(void *user, const char *problem)
{
    (void)user;
    printf("%s\n", problem);
}

static int do_validate(const char *path)
{
    tq_error err = {0};
    tq_registry *reg = NULL;
    if (tq_registry_open(&reg, path, &err))
        return cli_report(&err);
    int n = tq_registry_validate(reg, print_problem, NULL, &err);
    int entries = tq_registry_num_entries(reg);
    tq_registry_close(&reg);
    if (n < 0)
        return cli_report(&err);
    if (n > 0) {
        fprintf(stderr, "%s: %d problem%s\n", path, n, n == 1 ? "" : "s");
        return EXIT_CHECK;
    }
    printf("OK: %d registry entries valid\n", entries);
    return EXIT_OK;
}

static const char *scaler_short(tq_scaler_site s)
{
    return s == TQ_SCALER_LOADER ? "loader" : s == TQ_SCALER_GRAPH ? "graph" : "none";
}

static int do_list(const char *path)
{
    tq_error err = {0};
    tq_registry *reg = NULL;
    if (tq_registry_open(&reg, path, &err))
        return cli_report(&err);
    int failed = 0, w = 2; /* the ID column fits the longest id */
    for (int i = 0; i < tq_registry_num_entries(reg); i++) {
        tq_registry_entry e;
        tq_registry_entry_at(reg, i, &e);
        if (e.id && (int)strlen(e.id) > w)
            w = (int)strlen(e.id);
    }
    printf("%-*s %-6s %-8s %-9s %-7s %s\n", w, "ID", "KIND", "MODE", "INPUT", "SCALER", "FILE");
    for (int i = 0; i < tq_registry_num_entries(reg); i++) {
        tq_registry_entry e;
        tq_registry_entry_at(reg, i, &e);
        tq_scorer *s = NULL;
        tq_error e2 = {0};
        const char *id = e.id ? e.id : "(no id)";
        if (!e.id || tq_scorer_open(&s, reg, e.id, NULL, &e2)) {
            printf("%-*s %-6s %-8s %-9s %-7s error: %s\n", w, id, e.kind ? e.kind : "?",
                   tq_quant_mode_name(e.quant_mode), "-", "-", e.id ? e2.msg : "entry has no id");
            failed = 1;
            continue;
        }
        tq_scorer_info in;
        tq_scorer_get_info(s, &in);
        char kind[32];
        if (in.input_kind == TQ_INPUT_FEATURES)
            snprintf(kind, sizeof kind, "F=%lld%s", (long long)in.features,
                     in.codec_width ? "+codec" : "");
        else
            snprintf(kind, sizeof kind, "NCHW");
        printf("%-*s %-6s %-8s %-9s %-7s %s%s\n", w, id, e.kind ? e.kind : "?",
               tq_quant_mode_name(e.quant_mode), kind, scaler_short(in.scaler), in.path,
               e.smoke ? " (smoke)" : "");
        tq_scorer_close(&s);
    }
    printf("SCALER: loader = sidecar StandardScaler applied by the loader; graph = baked into "
           "the graph (Sub/Div), sidecar scaler not applied again; none = no scaler\n");
    tq_registry_close(&reg);
    return failed ? EXIT_USAGE : EXIT_OK;
}

static int do_resolve(const char *path, const char *id)
{
    tq_error err = {0};
    tq_registry *reg = NULL;
    if (tq_registry_open(&reg, path, &err))
        return cli_report(&err);
    char buf[4096];
    int rc = tq_registry_resolve(reg, id, buf, sizeof buf, &err);
    tq_registry_close(&reg);
    if (rc)
        return cli_report(&err);
    printf("%s\n", buf);
    return EXIT_OK;
}

static int do_score(const char *path, const char *id, const char *in_path, const char *out_path,
                    const tq_codec_context *codec)
{
    tq_error err = {0};
    tq_registry *reg = NULL;
    tq_scorer *s = NULL;
    tq_tensor_set in = {0}, out = {0};
    float *scores = NULL;
    int rc = tq_registry_open(&reg, path, &err);
    if (!rc)
        rc = tq_scorer_open(&s, reg, id, NULL, &err);
    if (!rc)
        rc = tq_npz_read(in_path, &in, &err);
    tq_scorer_info info = {0};
    const tq_tensor *x = NULL;
    if (!rc) {
        tq_scorer_get_info(s, &info);
        x = tq_tensor_set_find(&in, info.input_name);
        if (!x)
            rc = tq_fail(&err, TQ_EFORMAT, "%s: no entry '%s' (the model's input)", in_path,
                         info.input_name);
        else if (x->dtype != TQ_FLOAT || x->rank != (info.input_kind == TQ_INPUT_FEATURES ? 2 : 4))
            rc = tq_fail(&err, TQ_EFORMAT, "%s: entry '%s' must be float32 of rank %d", in_path,
                         x->name, info.input_kind == TQ_INPUT_FEATURES ? 2 : 4);
        else if (info.input_kind == TQ_INPUT_FEATURES && x->dims[1] != info.features)
            rc = tq_fail(&err, TQ_EFORMAT, "%s: entry '%s' has %lld features, the model takes %lld",
                         in_path, x->name, (long long)x->dims[1], (long long)info.features);
    }
    size_t n_scores = 0;
    if (!rc) {
        int64_t per = 1;
        for (int d = 1; d < x->rank; d++)
            per *= x->dims[d];
        /* room for any output up to the input's size, or outputs_per_sample */
        size_t cap = (size_t)x->dims[0] *
                     (size_t)(info.outputs_per_sample > per ? info.outputs_per_sample : per);
        scores = malloc((cap ? cap : 1) * sizeof *scores);
        if (!scores)
            rc = tq_fail(&err, TQ_ENOMEM, "out of memory");
        else if (info.input_kind == TQ_INPUT_FEATURES) {
            rc = tq_scorer_score_features(s, x->data, x->dims[0], codec, scores, cap, &err);
            n_scores = (size_t)x->dims[0] * (size_t)(info.outputs_per_sample > 0
                                                         ? info.outputs_per_sample : 1);
        } else {
            rc = tq_scorer_score_images(s, x->data, x->dims[0], x->dims[2], x->dims[3], scores,
                                        cap, &n_scores, &err);
        }
    }
    if (!rc && out_path) {
        tq_tensor t = {.name = (char *)info.output_name, .dtype = TQ_FLOAT, .rank = 1,
                       .dims = {(int64_t)n_scores}, .data = scores,
                       .nbytes = n_scores * sizeof(float)};
        if (info.outputs_per_sample > 1) {
            t.rank = 2;
            t.dims[0] = x->dims[0];
            t.dims[1] = info.outputs_per_sample;
        }
        rc = tq_tensor_set_add(&out, &t, &err);
        if (!rc)
            rc = tq_npz_write(out_path, &out, 0, &err);
    }
    if (!rc) {
        printf("%s: %s via %s (scaler: %s)\n", id, in_path, info.path, scaler_short(info.scaler));
        if (!out_path)
            for (size_t i = 0; i < n_scores; i++)
                printf("%.9g\n", scores[i]);
        else
            printf("wrote %s\n", out_path);
    }
    free(scores);
    tq_tensor_set_free(&in);
    tq_tensor_set_free(&out);
    tq_scorer_close(&s);
    tq_registry_close(&reg);
    return rc ? cli_report(&err) : EXIT_OK;
}

int cmd_registry(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1];
    const char *reg = NULL, *pos = NULL, *in_path = NULL, *out_path = NULL;
    tq_codec_context codec = {.crf = -1};
    int have_codec = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (strcmp(a, "--registry") == 0 && has_val)
            reg = argv[++i];
        else if (strcmp(a, "-i") == 0 && has_val)
            in_path = argv[++i];
        else if (strcmp(a, "-o") == 0 && has_val)
            out_path = argv[++i];
        else if (strcmp(a, "--encoder") == 0 && has_val)
            codec.encoder = argv[++i], have_codec = 1;
        else if (strcmp(a, "--preset") == 0 && has_val)
            codec.preset = argv[++i], have_codec = 1;
        else if (strcmp(a, "--crf") == 0 && has_val) {
            char *end;
            codec.crf = strtod(argv[++i], &end);
            if (*end || end == argv[i] || codec.crf < 0)
                return cli_usage_error("registry", "--crf needs a number >= 0");
            have_codec = 1;
        } else if (a[0] == '-')
            return cli_usage_error("registry", "unknown option '%s'", a);
        else if (!pos)
            pos = a;
        else
            return cli_usage_error("registry", "unexpected argument '%s'", a);
    }
    if (strcmp(sub, "validate") == 0 || strcmp(sub, "list") == 0) {
        if (reg && pos)
            return cli_usage_error("registry", "give REG once");
        const char *path = pos ? pos : reg ? reg : DEFAULT_REGISTRY;
        return sub[0] == 'v' ? do_validate(path) : do_list(path);
    }
    if (strcmp(sub, "resolve") == 0 || strcmp(sub, "score") == 0) {
        if (!pos)
            return cli_usage_error("registry", "%s needs an entry ID", sub);
        const char *path = reg ? reg : DEFAULT_REGISTRY;
        if (sub[0] == 'r')
            return do_resolve(path, pos);
        if (!in_path)
            return cli_usage_error("registry", "score needs -i IN.npz");
        return do_score(path, pos, in_path, out_path, have_codec ? &codec : NULL);
    }
    return cli_usage_error("registry", "unknown subcommand '%s' (validate, list, resolve, score)",
                           sub);
}
