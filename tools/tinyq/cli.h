/* Shared declarations of the tinyq command-line tool: one file per command. */
#ifndef TQ_TOOLS_CLI_H
#define TQ_TOOLS_CLI_H

#include "tinyq/tinyq.h"

/* Exit codes (SPEC §5). */
enum { EXIT_OK = 0, EXIT_CHECK = 1, EXIT_USAGE = 2 };

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

/* Print "tinyq: <message>" from an error and return the matching exit code. */
int cli_report(const tq_error *err);
/* Print a usage error for a command and return EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

/* One entry point per command (cmd_<name>.c). */
int cmd_inspect(int argc, char **argv);
int cmd_sanitize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_registry(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_drop(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_calib(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
