/* ONNX export of a trained MLP through the IR: inputs `features` [batch, F]
 * (and `codec` [batch, C], concatenated after the features), Gemm/Relu
 * layers, output `score` [batch] through Squeeze; opset 17, dynamic batch.
 * The sidecar's scaler is NOT baked in (the registry loader applies it). */
#ifndef TQ_TRAIN_EXPORT_H
#define TQ_TRAIN_EXPORT_H

#include "graph/ir.h"
#include "train/mlp.h"

/* The network computes y_mean + y_std * mlp(x): the target scaling used in
 * training is folded into the last Gemm so the graph outputs real scores. */
int tq_train_export_model(const tq_mlp *mlp, int n_features, int codec_width, double y_mean,
                          double y_std, const char *doc, tq_model **out, tq_error *err);

#endif
