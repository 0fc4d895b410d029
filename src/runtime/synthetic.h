/* The deterministic synthetic input set of SPEC §4 (the gate's and `tinyq run`'s
 * default): numpy default_rng(seed), each sample rng.random(shape, float32) per
 * graph input in order, every dynamic dimension set to 1. */
#ifndef TQ_RUNTIME_SYNTHETIC_H
#define TQ_RUNTIME_SYNTHETIC_H

#include "graph/ir.h"
#include "util/pcg64.h"

#define TQ_SYNTHETIC_SAMPLES 16

/* Number of runtime inputs (graph inputs that are not initializers). */
int tq_model_runtime_inputs(const tq_model *m, const tq_value_info **infos, int max);

/* Draw one sample: out[i] gets input i's tensor (owned; free with
 * tq_tensor_clear). *n receives the number of inputs. */
int tq_synthetic_sample(const tq_model *m, tq_pcg64 *rng, tq_tensor *out, int max, int *n,
                        tq_error *err);

#endif
