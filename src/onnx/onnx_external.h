/* External tensor data (TensorProto.data_location = EXTERNAL): resolves a
 * location relative to the model's folder, refuses anything that escapes it,
 * bounds-checks offset/length and reads the bytes. Each file is opened once. */
#ifndef TQ_ONNX_ONNX_EXTERNAL_H
#define TQ_ONNX_ONNX_EXTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tinyq/tinyq.h"

typedef struct tq_external_file {
    char *location; /* as written in the model */
    int fd;
    uint64_t size;
} tq_external_file;

typedef struct tq_external_ctx {
    const char *model_name; /* for messages */
    char *base_real;        /* realpath of the model's folder */
    tq_external_file *files;
    int n_files;
    size_t bytes_read;
} tq_external_ctx;

/* base_dir: folder the locations are relative to. */
int tq_external_init(tq_external_ctx *ctx, const char *model_name, const char *base_dir,
                     tq_error *err);
void tq_external_close(tq_external_ctx *ctx);

/* Read `need` bytes of tensor `tensor` (named in messages as `what` 'tensor')
 * from location at offset; has_length/length as given in the model. The
 * caller owns *out (malloc'ed, NULL when need == 0). */
int tq_external_read(tq_external_ctx *ctx, const char *what, const char *tensor,
                     const char *location, uint64_t offset, int has_length, uint64_t length,
                     uint64_t need, void **out, tq_error *err);

#endif
