/* Model summary: what `inspect` prints and reports record. */
#include "graph/summary.h"

#include <stdlib.h>
#include <string.h>

static int by_count(const void *a, const void *b)
{
    const tq_op_count *x = a, *y = b;
    if (x->count != y->count)
        return y->count - x->count;
    return strcmp(x->op_type, y->op_type);
}

int tq_model_summarize(const tq_model *m, tq_model_summary *out)
{
    memset(out, 0, sizeof *out);
    const tq_graph *g = &m->graph;
    out->ops = calloc((size_t)g->n_nodes + 1, sizeof *out->ops);
    if (!out->ops)
        return TQ_ENOMEM;
    bool dyn = false, qdq = false, qop = false;
    for (int i = 0; i < g->n_nodes; i++) {
        const char *op = g->nodes[i].op_type;
        int k = 0;
        while (k < out->n_ops && strcmp(out->ops[k].op_type, op) != 0)
            k++;
        if (k == out->n_ops)
            out->ops[out->n_ops++] = (tq_op_count){op, 0};
        out->ops[k].count++;
        if (!strcmp(op, "DynamicQuantizeLinear") || !strcmp(op, "MatMulInteger") ||
            !strcmp(op, "ConvInteger"))
            dyn = true;
        else if (!strcmp(op, "QLinearConv") || !strcmp(op, "QLinearMatMul"))
            qop = true;
        else if (!strcmp(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear"))
            qdq = true;
    }
    qsort(out->ops, (size_t)out->n_ops, sizeof *out->ops, by_count);
    out->quant = dyn ? TQ_QSTATE_DYNAMIC : qop ? TQ_QSTATE_QOPERATOR : qdq ? TQ_QSTATE_QDQ
                                                                       : TQ_QSTATE_FP32;
    for (int i = 0; i < g->n_initializers; i++) {
        const tq_tensor *t = &g->initializers[i];
        int64_t n = tq_tensor_numel(t);
        out->n_params += n > 0 ? n : 0;
        out->param_bytes += (int64_t)t->nbytes;
        if ((t->dtype == TQ_INT8 || t->dtype == TQ_UINT8) && n > 1)
            out->n_int8_weights++;
    }
    for (int i = 0; i < g->n_value_info; i++)
        if (tq_graph_find_initializer(g, g->value_info[i].name))
            out->n_value_info_dupes++;
    return TQ_OK;
}

void tq_model_summary_free(tq_model_summary *s)
{
    free(s->ops);
    memset(s, 0, sizeof *s);
}

const char *tq_quant_state_name(tq_quant_state q)
{
    switch (q) {
    case TQ_QSTATE_DYNAMIC: return "int8 dynamic (DynamicQuantizeLinear + MatMulInteger/ConvInteger)";
    case TQ_QSTATE_QDQ: return "int8 static QDQ (QuantizeLinear/DequantizeLinear)";
    case TQ_QSTATE_QOPERATOR: return "int8 QOperator (QLinearConv/QLinearMatMul)";
    default: return "fp32 (not quantised)";
    }
}
