/* Fold inference BatchNormalization into the Conv that feeds it (a graph
 * rewrite of the model itself, used before quantisation: the int8 weights
 * then carry the BN scale, as ONNX Runtime's quantiser pre-processing does). */
#ifndef TQ_GRAPH_FOLD_BN_H
#define TQ_GRAPH_FOLD_BN_H

#include "graph/ir.h"

/* Folds every BatchNormalization whose input is the only use of a Conv output
 * with constant weights, bias and BN parameters. Returns the number folded
 * (>= 0) or a negative error code (err set). */
int tq_fold_batchnorm(tq_model *m, tq_error *err);

#endif
