/* Report provenance: enough to reproduce or audit a gate/quantize run. */
#include "util/provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "util/git_rev.h"
#include "tinyq/tinyq.h"

const char *tq_git_revision(void)
{
    /* vcs_tag's fallback is empty when the source is not a git checkout */
    const char *rev = TQ_GIT_REVISION;
    return rev[0] == '@' ? "" : rev;
}

static void add_cpu_features(cJSON *o)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "cpu_features");
    if (!arr)
        return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    static const char *const names[] = {"sse4.2", "avx", "avx2", "fma", "avx512f",
                                        "avx512vnni", "f16c"};
    int have[7] = {__builtin_cpu_supports("sse4.2"), __builtin_cpu_supports("avx"),
                   __builtin_cpu_supports("avx2"), __builtin_cpu_supports("fma"),
                   __builtin_cpu_supports("avx512f"), __builtin_cpu_supports("avx512vnni"), 0};
    /* f16c has no __builtin_cpu_supports name on older compilers: read cpuinfo */
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            have[6] = strstr(line, " f16c") != NULL;
            break;
        }
    if (f)
        fclose(f);
    for (int i = 0; i < 7; i++)
        if (have[i])
            cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
#endif
}

char *tq_command_line(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += 2 * strlen(argv[i]) + 3;
    char *s = malloc(n), *o = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int quote = !a[0] || strpbrk(a, " \t'\"\\$") != NULL;
        if (i)
            *o++ = ' ';
        if (quote)
            *o++ = '\'';
        for (; *a; a++) {
            if (quote && *a == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *a;
            }
        }
        if (quote)
            *o++ = '\'';
    }
    *o = '\0';
    return s;
}

cJSON *tq_run_provenance(const char *command_line)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "tool", "tinyq");
    cJSON_AddStringToObject(o, "tool_version", tq_version());
    const char *rev = tq_git_revision();
    if (rev[0])
        cJSON_AddStringToObject(o, "git_revision", rev);
    else
        cJSON_AddNullToObject(o, "git_revision");
    if (command_line)
        cJSON_AddStringToObject(o, "command_line", command_line);
    else
        cJSON_AddNullToObject(o, "command_line");
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, "utc_time", when);
    struct utsname u;
    if (uname(&u) == 0) {
        cJSON_AddStringToObject(o, "host", u.nodename);
        cJSON_AddStringToObject(o, "os", u.sysname);
        cJSON_AddStringToObject(o, "machine", u.machine);
    }
    add_cpu_features(o);
    return o;
}
