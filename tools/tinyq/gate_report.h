/* JSON report helpers shared by `tinyq gate` and `tinyq drop` (--out-json). */
#ifndef TQ_TOOLS_GATE_REPORT_H
#define TQ_TOOLS_GATE_REPORT_H

#include <cjson/cJSON.h>

#include "registry/gate.h"

/* {"run_provenance": ..., "results": []}; results array returned in *results. */
cJSON *gate_report_new(int argc, char **argv, cJSON **results);
/* Append one pair's result (status "pass"/"fail"/"skip"/"error"). */
cJSON *gate_report_add(cJSON *results, const char *name, const char *mode, const char *status,
                       const tq_gate_result *r, const char *fp32, const char *int8,
                       const char *reason);
/* Write the report atomically; prints the error and returns nonzero on failure. */
int gate_report_write(cJSON *report, const char *path);

#endif
