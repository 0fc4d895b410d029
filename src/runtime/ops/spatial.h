/* Spatial attributes shared by Conv, ConvTranspose and the pooling ops:
 * kernel_shape, strides, dilations, pads and auto_pad, read and checked once,
 * plus the ONNX output-size rules (floor / ceil_mode / SAME_* / VALID). */
#ifndef TQ_RUNTIME_OPS_SPATIAL_H
#define TQ_RUNTIME_OPS_SPATIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/op.h"

#define TQ_SPATIAL_MAX 3

typedef enum tq_auto_pad {
    TQ_PAD_NOTSET,
    TQ_PAD_SAME_UPPER,
    TQ_PAD_SAME_LOWER,
    TQ_PAD_VALID,
} tq_auto_pad;

typedef struct tq_spatial {
    int nd;
    int64_t kernel[TQ_SPATIAL_MAX];
    int64_t stride[TQ_SPATIAL_MAX];
    int64_t dilation[TQ_SPATIAL_MAX];
    int64_t pad_begin[TQ_SPATIAL_MAX], pad_end[TQ_SPATIAL_MAX];
    tq_auto_pad auto_pad;
} tq_spatial;

/* Read the attributes for nd spatial dims. kernel: the kernel sizes from
 * the weight shape, or NULL to require the kernel_shape attribute. */
int tq_spatial_read(tq_op_ctx *c, int nd, const int64_t *kernel, tq_spatial *sp);

/* Output size of a forward window op (Conv, pools) for input size in along
 * every dim; resolves SAME_* / VALID pads into sp. Fails when an output
 * would be empty. */
int tq_spatial_forward(tq_op_ctx *c, tq_spatial *sp, const int64_t *in, bool ceil_mode,
                       int64_t *out);

#endif
