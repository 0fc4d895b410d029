/* tinyq command-line entry point: dispatches to one file per command. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"inspect", "inputs, outputs, ops, sizes and quantisation state of a model", cmd_inspect},
    {"sanitize", "strip value_info duplicates of initializers (results unchanged)", cmd_sanitize},
    {"run", "run a model on an npz or the deterministic synthetic set", cmd_run},
    {"bench", "latency (min/median) and throughput; int8/fp32 ratio for two models", cmd_bench},
    {"drop", "accuracy gate for one fp32/int8 pair (PLCC drop vs budget)", cmd_drop},
    {"gate", "accuracy gate over the registry's quantised entries", cmd_gate},
    {"registry", "validate / list / resolve registry entries; score through the loader", cmd_registry},
    {"quantize", "write the int8 model (dynamic, static QDQ, qat or auto) beside the fp32 one", cmd_quantize},
    {"eval", "task metric on a labelled set (top-1 + per-class, or PLCC/SROCC/RMSE)", cmd_eval},
    {"calib", "calib build: a calibration set by seeded / stratified sampling", cmd_calib},
    {"train", "train the FR regressor (MLP) from a corpus; ONNX + sidecar + LOSO report", cmd_train},
    {NULL, NULL, NULL},
};

int cli_report(const tq_error *err)
{
    fprintf(stderr, "tinyq: error: %s\n", err->msg[0] ? err->msg : tq_strerror(err->code));
    return err->code == TQ_ECHECK ? EXIT_CHECK : EXIT_USAGE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tinyq %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nRun 'tinyq %s --help' for usage.\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

static void print_help(FILE *f)
{
    fprintf(f, "tinyq %s: run, quantise and gate tiny ONNX models\n\n"
               "Usage: tinyq COMMAND [ARGS...]\n\nCommands:\n", tq_version());
    for (const cli_command *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'tinyq COMMAND --help' for a command's options.\n"
               "Exit codes: 0 success, 1 a check failed, 2 usage or input error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            for (const cli_command *c = commands; c->name; c++)
                if (strcmp(c->name, argv[2]) == 0) {
                    char *hargv[] = {argv[2], "--help", NULL};
                    return c->run(2, hargv);
                }
        }
        print_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("tinyq %s\n", tq_version());
        return EXIT_OK;
    }
    for (const cli_command *c = commands; c->name; c++)
        if (strcmp(c->name, cmd) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "tinyq: unknown command '%s'\n\n", cmd);
    print_help(stderr);
    return EXIT_USAGE;
}
