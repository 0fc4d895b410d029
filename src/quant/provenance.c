/* run_provenance block for reports. */
#include <time.h>
#include <unistd.h>

#include "quant/provenance.h"
#include "tinyq/tinyq.h"
#include "quant/tq_git_rev.h"

static void add_cpu_features(cJSON *arr)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        cJSON_AddItemToArray(arr, cJSON_CreateString("sse4.2"));
    if (__builtin_cpu_supports("avx"))
        cJSON_AddItemToArray(arr, cJSON_CreateString("avx"));
    if (__builtin_cpu_supports("avx2"))
        cJSON_AddItemToArray(arr, cJSON_CreateString("avx2"));
    if (__builtin_cpu_supports("fma"))
        cJSON_AddItemToArray(arr, cJSON_CreateString("fma"));
    if (__builtin_cpu_supports("f16c"))
        cJSON_AddItemToArray(arr, cJSON_CreateString("f16c"));
    if (__builtin_cpu_supports("avx512f"))
        cJSON_AddItemToArray(arr, cJSON_CreateString("avx512f"));
#else
    (void)arr;
#endif
}

cJSON *tq_run_provenance(const char *command_line)
{
    cJSON *p = cJSON_CreateObject();
    if (!p)
        return NULL;
    cJSON_AddStringToObject(p, "tool", "tinyq");
    cJSON_AddStringToObject(p, "tool_version", tq_version());
    const char *rev = TQ_GIT_REVISION;
    if (rev[0] && rev[0] != '@')
        cJSON_AddStringToObject(p, "git_revision", rev);
    else
        cJSON_AddNullToObject(p, "git_revision");
    if (command_line)
        cJSON_AddStringToObject(p, "command_line", command_line);
    else
        cJSON_AddNullToObject(p, "command_line");
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(p, "utc_time", when);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    cJSON_AddStringToObject(p, "hostname", host);
    cJSON *cpu = cJSON_AddArrayToObject(p, "cpu_features");
    if (cpu)
        add_cpu_features(cpu);
    return p;
}
