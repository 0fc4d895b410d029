/* The quantize report (--report-out): what was written from what, with the
 * run's provenance, as JSON. */
#ifndef TQ_QUANT_REPORT_H
#define TQ_QUANT_REPORT_H

#include "quant/quant_internal.h"

typedef struct tq_report_info {
    const char *model_path, *output_path, *calibration_path, *command_line;
    const tq_quant_settings *settings;
    const tq_range_table *ranges;
    const tq_quant_summary *summary;
    const struct cJSON *auto_info; /* --mode auto: what was tried (copied), or NULL */
} tq_report_info;

/* Malloc'ed JSON text, or NULL on allocation failure. */
char *tq_quant_report_json(const tq_report_info *info);

#endif
