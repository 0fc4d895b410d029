/* Reading single ONNX TensorProto files (the input_N.pb / output_N.pb files
 * of the ONNX conformance test data) into dense IR tensors. */
#ifndef TQ_ONNX_ONNX_TENSOR_H
#define TQ_ONNX_ONNX_TENSOR_H

#include "graph/ir.h"

/* Parse a serialized TensorProto file into *out (caller clears it with
 * tq_tensor_clear). The name is the proto's name ("" when absent). String
 * tensors give TQ_EUNSUPPORTED; external data is refused. */
int tq_onnx_read_tensor_pb(const char *path, tq_tensor *out, tq_error *err);

#endif
