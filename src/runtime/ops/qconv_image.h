/* The input layouts the integer convolution's implicit GEMMs read
 * (qconv.h), built per image at run time. */
#ifndef TQ_RUNTIME_OPS_QCONV_IMAGE_H
#define TQ_RUNTIME_OPS_QCONV_IMAGE_H

#include "runtime/ops/qconv.h"

/* Image xn (u8/s8 NCHW, one image) -> the zero-padded, phase-split int16
 * image of x - x_zp (qconv.h implicit). */
void tq_qconv_build_image(const tq_qconv *q, const tq_qdsp *d, const void *xn, int x_zp,
                          int16_t *img);
/* Image xn -> the channel-quad byte image (qconv.h c4, c4_taps, c4_shift);
 * zpr: the zero point as a u8 value; lines: two padded rows of scratch. */
void tq_qconv_build_c4_image(const tq_qconv *q, const tq_qdsp *d, const void *xn, int zpr,
                             uint8_t *img, uint8_t *lines);
/* The rows and columns a subsampling 1x1 convolution reads (qconv.h
 * sub_sh / sub_sw), packed as its stride-1 input, for the whole batch. */
void tq_qconv_gather_subsampled(const tq_qconv *q, const tq_qdsp *d, const uint8_t *x,
                                uint8_t *xs);

#endif
