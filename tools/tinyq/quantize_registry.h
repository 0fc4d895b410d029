/* `tinyq quantize --registry REG --id ID`: quantise a registry entry's fp32
 * file to its <basename>.int8.onnx and record the result in the registry. */
#ifndef TQ_TOOLS_QUANTIZE_REGISTRY_H
#define TQ_TOOLS_QUANTIZE_REGISTRY_H

#include "tinyq/quantize.h"

typedef struct quantize_registry_job {
    const char *registry;    /* registry.json */
    const char *id;          /* entry id */
    int mode_given;          /* 0: use the entry's quant_mode (dynamic for fp32 entries) */
    const char *calibration; /* NULL: static mode uses the entry's quant_calibration_set */
    const char *report;      /* --report-out, may be NULL */
    const char *command_line;
    /* --mode auto: the trials to run (NULL otherwise). Its budget is the
     * entry's quant_accuracy_budget_plcc unless budget_given. */
    tq_auto_settings *auto_settings;
    int budget_given;
} quantize_registry_job;

/* Checks the fp32 file against the entry's sha256 first, quantises it to the
 * entry's <basename>.int8.onnx, then sets quant_mode, int8_sha256 and (static)
 * quant_calibration_set in the registry (tq_registry_record_quant). When any
 * step fails, the registry and the previous int8 file are left as they were.
 * s->mode is set to the mode used (with auto: the mode chosen, recorded as
 * the entry's quant_mode); *int8_path (malloc'ed) names the output. */
int quantize_registry_entry(const quantize_registry_job *job, tq_quant_settings *s,
                            tq_quant_summary *sum, char **int8_path, tq_error *err);

#endif
