/* Report provenance: enough to reproduce or audit a gate/quantize run. */
#include "registry/provenance.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "registry/git_rev.h"
#include "tinyq/tinyq.h"

const char *tq_git_revision(void)
{
    /* vcs_tag's fallback is empty when the source is not a git checkout */
    return TQ_GIT_REVISION;
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

cJSON *tq_run_provenance(int argc, char **argv)
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
    cJSON *cmd = cJSON_AddArrayToObject(o, "command_line");
    for (int i = 0; cmd && i < argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
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
