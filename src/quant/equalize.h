/* Channel equalisation before static calibration (--equalize): an exact
 * float rewrite that rescales channels so the per-tensor activation ranges
 * of quantised nodes' inputs become comparable. See equalize.c. */
#ifndef TQ_QUANT_EQUALIZE_H
#define TQ_QUANT_EQUALIZE_H

#include "graph/ir.h"
#include "tinyq/quantize.h"

#define TQ_EQUALIZE_ALPHA_INPUT 0.75f  /* standardised inputs: exact ranges */
#define TQ_EQUALIZE_ALPHA_LAYERS 0.5f  /* hidden tensors: sampled maxima */

typedef struct tq_equalize_result {
    int n_inputs;    /* Div/Mul-standardised inputs rescaled */
    int n_centered;  /* of those, also centred through the Sub before them */
    int n_pairs;     /* producer -> (Relu) -> consumer pairs rescaled */
} tq_equalize_result;

/* Rescale the channels of every site found in m (selected quantised
 * consumers, see tq_quant_selected) using per-channel ranges measured over
 * calibration_npz. Modifies initializers in place; the graph's structure
 * and its fp32 function do not change (up to float rounding). */
int tq_equalize(tq_model *m, const tq_quant_settings *s, const char *calibration_npz,
                tq_equalize_result *res, tq_error *err);

#endif
