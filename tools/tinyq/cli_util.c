/* Small helpers shared by the CLI commands. */
#include "cli_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/provenance.h"

char *cli_sibling_path(const char *model_path, const char *suffix)
{
    size_t n = strlen(model_path);
    if (n > 5 && strcmp(model_path + n - 5, ".onnx") == 0)
        n -= 5;
    size_t len = n + strlen(suffix) + 1;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%.*s%s", (int)n, model_path, suffix);
    return s;
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

char *cli_command_line(int argc, char **argv)
{
    char **all = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (!all)
        return NULL;
    all[0] = "tinyq";
    for (int i = 0; i < argc; i++)
        all[i + 1] = argv[i];
    char *s = tq_command_line(argc + 1, all);
    free(all);
    return s;
}
