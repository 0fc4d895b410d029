/* Scale / zero-point math and value quantisation, matching ONNX Runtime's
 * quantiser bit for bit (see ORT-PARITY.md): ranges widened to include 0,
 * scale computed in double and stored as float, FLT_MIN guard, zero points
 * and values rounded half-to-even, values clamped to the full type range. */
#ifndef TQ_QUANT_QPARAMS_H
#define TQ_QUANT_QPARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/ir.h"

/* Integer range used to derive scales: uint8 [0,255] (symmetric [0,254],
 * reduce_range [0,127]); int8 [-128,127] (symmetric [-127,127], reduce_range
 * [-64,64]). Returns TQ_EINVAL for other types. */
int tq_qrange(tq_dtype qtype, bool symmetric, bool reduce_range, int *qmin, int *qmax);

/* The full representable range of the type (the clamp of QuantizeLinear). */
void tq_qtype_limits(tq_dtype qtype, int *lo, int *hi);

typedef struct tq_qparams {
    float scale;
    int32_t zero_point;
} tq_qparams;

/* Scale and zero point for a real range [rmin, rmax] (NaN-free). */
tq_qparams tq_compute_qparams(float rmin, float rmax, int qmin, int qmax, bool symmetric);

/* q = clamp(rint(x / scale) + zp, lo, hi), half-to-even like QuantizeLinear. */
int32_t tq_quantize_value(float x, float scale, int32_t zp, int lo, int hi);

/* int32 bias: clamp(rint(b / bias_scale)) to [INT32_MIN, INT32_MAX]. */
int32_t tq_quantize_bias_value(float b, float bias_scale);

/* Symmetric int8 quantisation of a float weight tensor. axis < 0: one scale
 * for the whole tensor; otherwise one scale per index of `axis`
 * (n_scales = dims[axis]). q must hold numel int8 values, scales n_scales.
 * reduce_range: the scale maps |w|max to 64 (ORT's [-64, 64]), else 127. */
int tq_quantize_weight_s8(const tq_tensor *w, int axis, bool reduce_range, int8_t *q,
                          float *scales, tq_error *err);

#endif
