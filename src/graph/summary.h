/* Facts about a model for `inspect` and reports: op histogram, parameter
 * count, value_info duplicates, quantisation state. */
#ifndef TQ_GRAPH_SUMMARY_H
#define TQ_GRAPH_SUMMARY_H

#include "graph/ir.h"

typedef struct tq_op_count {
    const char *op_type; /* points into the model */
    int count;
} tq_op_count;

typedef enum tq_quant_state {
    TQ_QSTATE_FP32 = 0,   /* fp32 (or fp16) only */
    TQ_QSTATE_DYNAMIC,    /* DynamicQuantizeLinear + MatMulInteger/ConvInteger */
    TQ_QSTATE_QDQ,        /* QuantizeLinear/DequantizeLinear pairs around float ops */
    TQ_QSTATE_QOPERATOR,  /* QLinearConv / QLinearMatMul */
} tq_quant_state;

typedef struct tq_model_summary {
    tq_op_count *ops;    /* sorted by count desc, then name */
    int n_ops;
    int64_t n_params;    /* elements of all initializers */
    int64_t param_bytes;
    int n_value_info_dupes; /* value_info entries naming an initializer */
    tq_quant_state quant;
    int n_int8_weights;  /* int8/uint8 initializers with more than one element */
} tq_model_summary;

int tq_model_summarize(const tq_model *m, tq_model_summary *out);
void tq_model_summary_free(tq_model_summary *s);
const char *tq_quant_state_name(tq_quant_state q);

#endif
