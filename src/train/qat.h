/* Quantisation-aware fine-tuning (SPEC §2, mode qat): train the fp32 weights
 * of a BN-folded model through fake quantisation (autograd.h) on a training
 * .npz, write them back into the model, and hand the caller a calibration
 * .npz drawn from the same training set for the static QDQ export. */
#ifndef TQ_TRAIN_QAT_H
#define TQ_TRAIN_QAT_H

#include "graph/ir.h"
#include "tinyq/quantize.h"

/* Fine-tune m in place. s gives the quantiser's node selection, weight
 * granularity and activation type (the fake quantisation mirrors the export);
 * q the training knobs (results are written back into q). On success
 * *calib_dir and *calib_path are malloc'ed: a temporary folder and the
 * calibration .npz inside it; tq_qat_remove_calibration deletes both. */
int tq_qat_finetune(tq_model *m, const tq_quant_settings *s, tq_qat_settings *q, char **calib_dir,
                    char **calib_path, tq_error *err);
void tq_qat_remove_calibration(char *calib_dir, char *calib_path);

#endif
