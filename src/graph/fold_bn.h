/* Fold inference BatchNormalization into the Conv that feeds it:
 *   y = gamma * (conv(x, W) + b - mean) / sqrt(var + eps) + beta
 *     = conv(x, W * s) + (b - mean) * s + beta,   s = gamma / sqrt(var + eps)
 * computed in double, rounded once to float32 (the algebra of ONNX Runtime's
 * ConvBNFusion). Used by the quantiser before quantising (the int8 weights
 * then carry the BN scale, as ORT's quantiser pre-processing does) and by the
 * fp32 fusion pass for execution. */
#ifndef TQ_GRAPH_FOLD_BN_H
#define TQ_GRAPH_FOLD_BN_H

#include <stdbool.h>

#include "graph/ir.h"

/* Is node i a plain 1-D/2-D Conv with constant float weights (and bias)? */
bool tq_conv_has_const_weights(const tq_graph *g, int i);

/* Folds every BatchNormalization that is the only reader of such a Conv's
 * output (parameters may sit behind Identity nodes). Returns the number
 * folded (>= 0) or a negative error code (err set). */
int tq_fold_batchnorm(tq_model *m, tq_error *err);

#endif
