/* Op family 'quant': the ONNX integer ops and tinyq's fused dynamic-int8 ops
 * (domain "tinyq", produced by graph/fuse_dynamic.c and graph/fuse_qdq.c). Implementations live in
 * quant_linear.c, conv_integer.c, qconv_float.c, matmul_integer.c, fused_dynamic.c and
 * fused_qdq.c. */
#include "runtime/op.h"
#include "runtime/ops/qcommon.h"

const tq_op_def *const tq_ops_quant[] = {
    &tq_op_quantize_linear, &tq_op_dequantize_linear, &tq_op_dynamic_quantize_linear,
    &tq_op_conv_integer,    &tq_op_qlinear_conv,      &tq_op_matmul_integer,
    &tq_op_qlinear_matmul,  &tq_op_fused_dyn_conv,    &tq_op_fused_dyn_matmul,
    &tq_op_fused_qdq_eltwise, &tq_op_fused_qdq_gemm, &tq_op_fused_qdq_gemm_float,
    &tq_op_fused_qdq_conv_float, NULL,
};
