/* Internal entry points of the ONNX layer that are not in the public API. */
#ifndef TQ_ONNX_ONNX_IO_H
#define TQ_ONNX_ONNX_IO_H

#include <stddef.h>
#include <stdint.h>

#include "graph/ir.h"

/* Serialize the IR as an ONNX ModelProto with every weight inline (raw_data).
 * *buf is malloc'ed; the caller frees it. */
int tq_onnx_serialize(const tq_model *m, uint8_t **buf, size_t *len, tq_error *err);

/* ir_version written by the saver for this model (see onnx_save.c). */
int64_t tq_onnx_saved_ir_version(const tq_model *m);

#endif
