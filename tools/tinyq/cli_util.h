/* Small helpers shared by the CLI commands: paths and number parsing. */
#ifndef TQ_TOOLS_CLI_UTIL_H
#define TQ_TOOLS_CLI_UTIL_H

/* "dir/name.onnx" + ".int8.onnx" -> "dir/name.int8.onnx" (malloc'ed). */
char *cli_sibling_path(const char *model_path, const char *suffix);
/* True when both paths name the same existing file. */
int cli_same_file(const char *a, const char *b);
/* Strict integer parsing for option values; 0 on success. */
int cli_parse_int(const char *s, long lo, long hi, long *out);

/* "tinyq " + the command's argv, shell-quoted, for report provenance
 * (malloc'ed; NULL on allocation failure). */
char *cli_command_line(int argc, char **argv);

#endif
