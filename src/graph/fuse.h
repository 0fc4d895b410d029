/* Graph fusion for execution: rewrites a deep copy of a model so runs of
 * integer ops execute as single fused kernels (ops in the private "tinyq"
 * domain, implemented in runtime/ops/fused_dynamic.c). The session owns the
 * copy; the caller's model is never touched.
 *
 * Dynamic int8 (what ONNX Runtime's quantize_dynamic writes):
 *   DynamicQuantizeLinear(x) -> ConvInteger | MatMulInteger (constant weight)
 *   -> Cast(float) -> Mul(x_scale * w_scale) [-> Add(constant bias)]
 * (w_scale per tensor, or per output channel when its Mul broadcasts along
 * the channel axis: [C,1,1] / [1,C,1,1] for convs, [N] for matmuls, what
 * --per-channel writes)
 * becomes tinyq.DynQConv / tinyq.DynQMatMul(x, w, w_zp, w_scale, bias): the
 * same quantised bytes, the same exact int32 accumulators, and the same two
 * float roundings (multiply, then add) as the unfused graph, so results are
 * bit-identical. Nodes left without consumers are then removed. */
#ifndef TQ_GRAPH_FUSE_H
#define TQ_GRAPH_FUSE_H

#include "graph/ir.h"
#include "util/error.h"

/* Append deep copies of src's attributes to dst (fused ops keep their
 * source node's attributes). */
int tq_node_copy_attrs(tq_node *dst, const tq_node *src);

/* Deep copy of everything execution needs (opsets, graph, provenance path). */
int tq_model_copy_for_exec(const tq_model *src, tq_model **out, tq_error *err);

/* Fuse the dynamic int8 chains of m in place; *n_fused = groups rewritten. */
int tq_fuse_dynamic(tq_model *m, int *n_fused, tq_error *err);

/* fp32 conv fusions (fuse_fp32.c): Conv+BatchNormalization folded into the
 * weights, Conv [+ Add] [+ Relu/Clip] into com.microsoft FusedConv.
 * *n_fused = rewrites made. */
bool tq_fuse_fp32_applies(const tq_model *m);
int tq_fuse_fp32(tq_model *m, int *n_fused, tq_error *err);
/* Static QDQ groups (graph/fuse_qdq.c): DequantizeLinear -> Conv ->
 * QuantizeLinear becomes QLinearConv (integer kernel, float requantisation
 * as ONNX Runtime does it); DQ -> Gemm|MatMul -> Q becomes tinyq.QGemm
 * (same integer scheme); DQ -> [BatchNormalization] [+ DQ ->
 * [BatchNormalization]] -> [Relu|Clip] -> [QuantizeLinear] becomes
 * tinyq.QEltwise (per-channel byte tables). *n_fused = groups rewritten. */
int tq_fuse_qdq(tq_model *m, int *n_fused, tq_error *err);


/* For the session: when m has something to fuse, *out = a fused copy, else
 * *out = NULL (run m as is). */
int tq_fuse_for_session(const tq_model *m, tq_model **out, tq_error *err);

#endif
