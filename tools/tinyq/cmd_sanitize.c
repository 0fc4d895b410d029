/* `tinyq sanitize MODEL [-o OUT]`: strip value_info duplicates of initializers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "util/error.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq sanitize MODEL.onnx [-o OUT.onnx]\n\n"
            "Removes graph.value_info entries that repeat initializer names (an exporter\n"
            "quirk whose static shapes contradict a dynamic batch axis). Nothing else\n"
            "changes, so inference results stay bit-identical. The input is never\n"
            "modified; the output is written atomically, weights inline.\n\n"
            "  -o OUT   output file (default: MODEL.sanitized.onnx beside the input)\n");
}

int cmd_sanitize(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *path = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] == '-')
            return cli_usage_error("sanitize", "unknown option '%s'", argv[i]);
        else if (!path)
            path = argv[i];
        else
            return cli_usage_error("sanitize", "one model at a time ('%s' is extra)", argv[i]);
    }
    if (!path)
        return cli_usage_error("sanitize", "missing MODEL.onnx");
    char *def_out = out ? NULL : cli_sibling_path(path, ".sanitized.onnx");
    if (!out)
        out = def_out;
    if (cli_same_file(path, out)) {
        free(def_out);
        return cli_usage_error("sanitize", "output '%s' would overwrite the input", out);
    }
    tq_error err = {0};
    tq_model *m = NULL;
    int rc = tq_model_load(&m, path, &err);
    int removed = rc ? 0 : tq_model_sanitize(m);
    if (!rc && removed < 0)
        rc = tq_fail(&err, TQ_ENOMEM, "%s: out of memory", path);
    if (!rc)
        rc = tq_model_save(m, out, &err);
    tq_model_free(&m);
    if (rc) {
        free(def_out);
        return cli_report(&err);
    }
    printf("%s: removed %d value_info duplicate%s of initializers -> %s\n", path, removed,
           removed == 1 ? "" : "s", out);
    free(def_out);
    return EXIT_OK;
}
