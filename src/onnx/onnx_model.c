/* Model-level queries and clean-up on the loaded IR: graph inputs/outputs as
 * the public API sees them, and sanitize (value_info duplicates of weights). */
#include <string.h>

#include "graph/ir.h"

TQ_API int tq_model_sanitize(tq_model *m)
{
    if (!m)
        return TQ_EINVAL;
    tq_graph *g = &m->graph;
    int kept = 0, removed = 0;
    for (int i = 0; i < g->n_value_info; i++) {
        if (tq_graph_initializer_index(g, g->value_info[i].name ? g->value_info[i].name : "") >= 0) {
            tq_value_info_clear(&g->value_info[i]);
            removed++;
        } else {
            g->value_info[kept++] = g->value_info[i];
        }
    }
    g->n_value_info = kept;
    return removed;
}

/* Graph inputs that are not initializers (older IR versions list weights as
 * inputs too); index i counts only the real inputs. */
static const tq_value_info *real_input(const tq_model *m, int i)
{
    const tq_graph *g = &m->graph;
    for (int k = 0; k < g->n_inputs; k++) {
        if (tq_graph_initializer_index(g, g->inputs[k].name) >= 0)
            continue;
        if (i-- == 0)
            return &g->inputs[k];
    }
    return NULL;
}

TQ_API int tq_model_num_inputs(const tq_model *m)
{
    if (!m)
        return TQ_EINVAL;
    int n = 0;
    while (real_input(m, n))
        n++;
    return n;
}

TQ_API int tq_model_num_outputs(const tq_model *m)
{
    return m ? m->graph.n_outputs : TQ_EINVAL;
}

/* Dynamic dims (symbolic or unknown) are -1; an absent shape gives rank -1. */
static void fill_view(const tq_value_info *v, tq_tensor_view *out)
{
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->dtype = v->dtype;
    out->rank = v->rank;
    for (int i = 0; i < v->rank && i < TQ_MAX_RANK; i++)
        out->dims[i] = v->dims[i] >= 0 ? v->dims[i] : -1;
}

TQ_API int tq_model_input(const tq_model *m, int i, tq_tensor_view *out)
{
    if (!m || !out || i < 0)
        return TQ_EINVAL;
    const tq_value_info *v = real_input(m, i);
    if (!v)
        return TQ_EINVAL;
    fill_view(v, out);
    return TQ_OK;
}

TQ_API int tq_model_output(const tq_model *m, int i, tq_tensor_view *out)
{
    if (!m || !out || i < 0 || i >= m->graph.n_outputs)
        return TQ_EINVAL;
    fill_view(&m->graph.outputs[i], out);
    return TQ_OK;
}
