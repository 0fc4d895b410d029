/* --mode auto (auto.c) and the pieces of the file-to-file job it shares with
 * tq_quantize_file (defined in quantize.c). */
#ifndef TQ_QUANT_AUTO_H
#define TQ_QUANT_AUTO_H

#include "quant/quant_internal.h"

struct cJSON;

/* Fails when an output would overwrite an input (model, calibration/training
 * set, report). */
int tq_quant_check_outputs(const char *model_path, const char *out, const tq_quant_settings *s,
                           const char *calibration_npz, const char *report_path, tq_error *err);

/* tq_quantize_model that also hands back the calibrated ranges. */
int tq_quantize_model_ranges(tq_model *m, const tq_quant_settings *s, const char *cal,
                             tq_quant_summary *sum, tq_range_table *ranges, tq_error *err);

/* Atomically write a quantised model (and its report, with auto_info under
 * "auto" when non-NULL). */
int tq_quant_write_result(tq_model *m, const char *model_path, const char *out,
                          const tq_quant_settings *s, const char *calibration_npz,
                          const tq_range_table *ranges, tq_quant_summary *sum,
                          const char *report_path, const char *command_line,
                          const struct cJSON *auto_info, tq_error *err);

#endif
