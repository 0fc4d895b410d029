/* Quantisation-aware fine-tuning (SPEC §2, mode qat): train the fp32 weights
 * of a BN-folded model through fake quantisation (autograd.h) on a training
 * .npz, with the activation ranges the static QDQ export calibrates (frozen),
 * and write the weights back into the model. */
#ifndef TQ_TRAIN_QAT_H
#define TQ_TRAIN_QAT_H

#include "graph/ir.h"
#include "quant/quant_internal.h"
#include "tinyq/quantize.h"

/* Fine-tune m in place. s gives the quantiser's node selection, weight
 * granularity, activation type and calibration (method, percentile,
 * float_outputs): the fake quantisation mirrors the export; q the training
 * knobs (results are written back into q). The activation ranges are
 * tq_static_ranges of m before training on calibration_npz, or, when it is
 * NULL, on q->n_calibration samples of the training set written to a
 * temporary .npz (then *calib_dir and *calib_path are malloc'ed: the folder
 * and the file; tq_qat_remove_calibration deletes both; else both NULL).
 * On success *ranges holds those ranges (the export writes them, unless it
 * recalibrates) and *trained the ranges the fake quantisation held at the
 * end of training (equal to *ranges: they are frozen); free both with
 * tq_range_table_free. */
int tq_qat_finetune(tq_model *m, const tq_quant_settings *s, tq_qat_settings *q,
                    const char *calibration_npz, tq_range_table *ranges, tq_range_table *trained,
                    char **calib_dir, char **calib_path, tq_error *err);
void tq_qat_remove_calibration(char *calib_dir, char *calib_path);

#endif
