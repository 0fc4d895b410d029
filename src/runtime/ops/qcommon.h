/* Shared pieces of the integer ops: reading scale / zero-point inputs, the
 * DynamicQuantizeLinear parameter rule and float requantisation (the integer
 * convolution engine is runtime/ops/qconv.h).
 *
 * Requantisation scheme (QLinearConv, QLinearMatMul): float, as ONNX Runtime
 * does it: q = clamp(rint((float)acc * M) + zp) with M = (a_scale * b_scale) /
 * y_scale computed in float and rint = round half to even. (float)acc is exact
 * for |acc| < 2^24, which covers K * 255 * 255 for K < 258; beyond that the
 * conversion rounds to nearest-even exactly like ONNX Runtime's. */
#ifndef TQ_RUNTIME_OPS_QCOMMON_H
#define TQ_RUNTIME_OPS_QCOMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/qgemm.h"
#include "runtime/op.h"

/* True for int8 / uint8. */
bool tq_is_q8(tq_dtype t);

/* A zero-point or scale input: scalar (n == 1) or a vector of n values.
 * Integer zero points are read as int32; an omitted input reads as one 0. */
typedef struct tq_qparam {
    int n;
    int32_t *zp;  /* zero points (when integer) */
    float *scale; /* scales (when float) */
} tq_qparam;

/* Read input i (may be omitted) as zero points; its data must be available
 * (const in prepare, or call in eval). expect_n: 1 or the per-axis length
 * (a scalar or 1-element tensor is always accepted). */
int tq_qparam_zp(tq_op_ctx *c, int i, int expect_n, int32_t *out);
int tq_qparam_scale(tq_op_ctx *c, int i, int expect_n, float *out);
/* Element count of input i when it is a scalar or 1-D tensor, else -1. */
int64_t tq_qparam_len(const tq_value *v);

/* ONNX / ONNX Runtime DynamicQuantizeLinear parameters from the data range:
 * range extended to include 0, scale = (max - min) / 255 (1 when max == min),
 * zp = rint(clamp(-min / scale, 0, 255)). */
void tq_dynamic_qparams(float mn, float mx, float *scale, int *zp);

/* DynamicQuantizeLinear of n floats into q (uint8), returning its scale and
 * zero point; shared by the op and the fused dynamic ops so both give the
 * same bytes. */
void tq_dynamic_quantize(const tq_qdsp *d, const float *x, size_t n, uint8_t *q, float *scale,
                         int *zp);
/* The same with the min/max (as d->minmax computes them) already known. */
void tq_dynamic_quantize_range(const tq_qdsp *d, const float *x, size_t n, float mn, float mx,
                               uint8_t *q, float *scale, int *zp);

/* The op definitions of this family (listed in quant.c). */
extern const tq_op_def tq_op_quantize_linear, tq_op_dequantize_linear,
    tq_op_dynamic_quantize_linear, tq_op_conv_integer, tq_op_qlinear_conv,
    tq_op_matmul_integer, tq_op_qlinear_matmul, tq_op_fused_dyn_conv, tq_op_fused_dyn_matmul,
    tq_op_fused_qdq_eltwise, tq_op_fused_qdq_gemm, tq_op_fused_qdq_gemm_float,
    tq_op_fused_qdq_conv_float;

#endif
