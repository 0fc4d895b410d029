/* --out-json reports of the accuracy gate, with run_provenance. */
#include "gate_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "util/provenance.h"
#include "util/fileio.h"

cJSON *gate_report_new(int argc, char **argv, cJSON **results)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char *cmd = cli_command_line(argc, argv);
    cJSON_AddItemToObject(o, "run_provenance", tq_run_provenance(cmd));
    free(cmd);
    *results = cJSON_AddArrayToObject(o, "results");
    return o;
}

static void add_number(cJSON *o, const char *k, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, v);
}

cJSON *gate_report_add(cJSON *results, const char *name, const char *mode, const char *status,
                       const tq_gate_result *r, const char *fp32, const char *int8,
                       const char *reason)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", name);
    cJSON_AddStringToObject(o, "mode", mode ? mode : "unknown");
    cJSON_AddStringToObject(o, "status", status);
    if (r) {
        add_number(o, "plcc", r->plcc);
        add_number(o, "drop", r->drop);
        cJSON_AddNumberToObject(o, "budget", r->budget);
        cJSON_AddNumberToObject(o, "values", (double)r->n);
    }
    if (fp32)
        cJSON_AddStringToObject(o, "fp32", fp32);
    if (int8)
        cJSON_AddStringToObject(o, "int8", int8);
    if (reason)
        cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddItemToArray(results, o);
    return o;
}

int gate_report_write(cJSON *report, const char *path)
{
    char *text = cJSON_Print(report);
    tq_error err = {0};
    int rc = text ? TQ_OK : TQ_ENOMEM;
    if (text) {
        size_t n = strlen(text);
        text[n] = '\n'; /* replace the NUL: write n+1 bytes ending in a newline */
        rc = tq_write_file_atomic(path, text, n + 1, &err);
        text[n] = '\0';
    } else {
        err.code = TQ_ENOMEM;
        snprintf(err.msg, sizeof err.msg, "%s: out of memory building the report", path);
    }
    free(text);
    return rc ? cli_report(&err) : 0;
}
