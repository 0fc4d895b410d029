/* Running a model on a named set of tensors (an npz), whole-batch or one
 * sample (row of axis 0) at a time with the outputs concatenated. */
#ifndef TQ_RUNTIME_RUN_SET_H
#define TQ_RUNTIME_RUN_SET_H

#include "io/npz.h"

/* Inputs are matched to the model's runtime inputs by name; `source` names
 * where they came from for messages (e.g. the npz path). Extra keys are ignored.
 * Outputs are copied into `out` (keys = output names). */
int tq_run_set(tq_session *s, const tq_model *m, const tq_tensor_set *in, const char *source,
               int per_sample, tq_tensor_set *out, tq_error *err);

#endif
