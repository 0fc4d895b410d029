/* Conversions between protobuf-c ONNX messages and IR tensors, shared by the
 * model loader, the saver and the TensorProto file reader. */
#ifndef TQ_ONNX_ONNX_PROTO_H
#define TQ_ONNX_ONNX_PROTO_H

#include "graph/ir.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_external.h"

/* Decode a TensorProto into a dense little-endian row-major tensor.
 * `where` names the file for messages; `what` the kind of tensor
 * ("initializer", "tensor", "attribute 'value' of node 'x'").
 * ext resolves external data; NULL refuses it. *from_external tells the
 * caller (may be NULL) whether the bytes came from an external file. */
int tq_onnx_decode_tensor(const Onnx__TensorProto *tp, const char *where, const char *what,
                          tq_external_ctx *ext, tq_tensor *out, int *from_external,
                          tq_error *err);

/* Upper bound on message nesting (graphs inside attributes inside nodes...).
 * protobuf-c recurses without a limit, so deeper inputs are refused before
 * unpacking instead of exhausting the stack. */
#define TQ_ONNX_MAX_NESTING 64

/* Check that a serialized message of type `desc` nests at most max_depth
 * levels deep. Returns 0 when fine, -2 when too deep, -1 when the framing is
 * malformed (protobuf-c would reject it too). */
int tq_onnx_check_nesting(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                          size_t len, int max_depth);

#endif
