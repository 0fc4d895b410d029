/* Which nodes the quantiser touches, and where their weight channels are. */
#include <string.h>

#include "quant/quant_internal.h"

static const char *const default_ops[] = {"Conv", "ConvTranspose", "Gemm", "MatMul", NULL};

bool tq_quant_selected(const tq_quant_settings *s, const tq_node *n)
{
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return false;
    bool listed = false;
    if (s->op_types && s->n_op_types > 0) {
        for (int i = 0; i < s->n_op_types; i++)
            listed |= strcmp(s->op_types[i], n->op_type) == 0;
    } else {
        for (int i = 0; default_ops[i]; i++)
            listed |= strcmp(default_ops[i], n->op_type) == 0;
    }
    if (!listed)
        return false;
    for (int i = 0; i < s->n_exclude_nodes; i++)
        if (n->name && strcmp(s->exclude_nodes[i], n->name) == 0)
            return false;
    return true;
}

int tq_quant_weight_axis(const tq_node *n)
{
    if (strcmp(n->op_type, "ConvTranspose") == 0)
        return 1;
    if (strcmp(n->op_type, "Gemm") == 0)
        return tq_node_attr_int(n, "transB", 0) ? 0 : 1;
    if (strcmp(n->op_type, "MatMul") == 0)
        return 1;
    return 0; /* Conv: output channels first */
}

const tq_tensor *tq_quant_float_init(const tq_graph *g, const tq_node *n, int input)
{
    if (input >= n->n_inputs || !n->inputs[input][0])
        return NULL;
    const tq_tensor *t = tq_graph_find_initializer(g, n->inputs[input]);
    return t && t->dtype == TQ_FLOAT ? t : NULL;
}
