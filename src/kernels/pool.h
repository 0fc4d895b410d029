/* fp32 pooling kernels over NC[D]HW data with up to 3 spatial dims: max and
 * average windows (pads, strides, dilations) and global average. */
#ifndef TQ_KERNELS_POOL_H
#define TQ_KERNELS_POOL_H

#include <stdbool.h>
#include <stdint.h>

#define TQ_POOL_MAX_DIMS 3

typedef struct tq_pool_geom {
    int nd;                              /* spatial dims, 1..3 */
    int64_t in[TQ_POOL_MAX_DIMS], out[TQ_POOL_MAX_DIMS];
    int64_t kernel[TQ_POOL_MAX_DIMS], stride[TQ_POOL_MAX_DIMS];
    int64_t dilation[TQ_POOL_MAX_DIMS];
    int64_t pad_begin[TQ_POOL_MAX_DIMS], pad_end[TQ_POOL_MAX_DIMS];
} tq_pool_geom;

/* One channel plane. Max ignores padding. Average divides by the window
 * size clipped to the padded input (count_include_pad) or to the real input. */
void tq_maxpool_c(const tq_pool_geom *g, const float *in, float *out);
/* Also the row-major index within the plane of each maximum (the first one
 * on ties), for MaxPool's Indices output; idx may be NULL. */
void tq_maxpool_idx_c(const tq_pool_geom *g, const float *in, float *out, int64_t *idx);
void tq_avgpool_c(const tq_pool_geom *g, const float *in, float *out, bool count_include_pad);

/* out[i] = mean of in[i*n .. i*n + n) for i < planes. */
void tq_global_avgpool_c(const float *in, int64_t planes, int64_t n, float *out);

#endif
