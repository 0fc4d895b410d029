/* Graph queries and edits shared by the rewrite passes. */
#include "graph/graph_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool tq_node_is_onnx(const tq_node *n, const char *op)
{
    return strcmp(n->op_type, op) == 0 && (!n->domain || !n->domain[0] ||
                                           strcmp(n->domain, "ai.onnx") == 0);
}

bool tq_graph_is_output(const tq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (strcmp(g->outputs[i].name, name) == 0)
            return true;
    return false;
}

bool tq_graph_is_input(const tq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->inputs[i].name, name) == 0)
            return true;
    return false;
}

int tq_graph_producer(const tq_graph *g, const char *name)
{
    if (!name || !name[0]) /* an omitted optional value has no producer */
        return -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (strcmp(g->nodes[i].outputs[k], name) == 0)
                return i;
    return -1;
}

int tq_graph_sole_consumer(const tq_graph *g, const char *name)
{
    if (tq_graph_is_output(g, name))
        return -1;
    int found = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (strcmp(g->nodes[i].inputs[k], name) == 0) {
                if (found >= 0)
                    return -1;
                found = i;
            }
    return found;
}

const tq_tensor *tq_graph_const_float(const tq_graph *g, const char *name)
{
    for (int depth = 0; depth < 8 && name && name[0]; depth++) {
        if (tq_graph_is_input(g, name))
            return NULL;
        const tq_tensor *t = tq_graph_find_initializer(g, name);
        if (t)
            return t->dtype == TQ_FLOAT ? t : NULL;
        int p = tq_graph_producer(g, name);
        if (p < 0 || !tq_node_is_onnx(&g->nodes[p], "Identity") || g->nodes[p].n_inputs != 1)
            return NULL;
        name = g->nodes[p].inputs[0];
    }
    return NULL;
}

int tq_graph_fresh_name(const tq_graph *g, const char *base, const char *suffix, char *buf,
                        size_t cap)
{
    for (int n = 0; n < 1000; n++) {
        int len = n ? snprintf(buf, cap, "%s%s_%d", base, suffix, n)
                    : snprintf(buf, cap, "%s%s", base, suffix);
        if (len < 0 || (size_t)len >= cap)
            return TQ_ENOMEM;
        if (!tq_graph_find_initializer(g, buf) && tq_graph_producer(g, buf) < 0 &&
            !tq_graph_is_input(g, buf))
            return TQ_OK;
    }
    return TQ_ENOMEM;
}

void tq_graph_drop_node(tq_graph *g, int i)
{
    tq_node_clear(&g->nodes[i]);
    memmove(&g->nodes[i], &g->nodes[i + 1], sizeof(tq_node) * (size_t)(g->n_nodes - i - 1));
    g->n_nodes--;
}

int tq_set_name(char **slot, const char *name)
{
    char *d = strdup(name);
    if (!d)
        return TQ_ENOMEM;
    free(*slot);
    *slot = d;
    return TQ_OK;
}

void tq_graph_sweep_dead(tq_graph *g)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (int i = g->n_nodes - 1; i >= 0; i--) {
            const tq_node *n = &g->nodes[i];
            bool used = false;
            for (int k = 0; k < n->n_outputs && !used; k++) {
                const char *o = n->outputs[k];
                if (!o[0])
                    continue;
                if (tq_graph_is_output(g, o)) {
                    used = true;
                    break;
                }
                for (int j = 0; j < g->n_nodes && !used; j++)
                    for (int q = 0; q < g->nodes[j].n_inputs; q++)
                        if (strcmp(g->nodes[j].inputs[q], o) == 0) {
                            used = true;
                            break;
                        }
            }
            if (used)
                continue;
            tq_node_clear(&g->nodes[i]);
            memmove(&g->nodes[i], &g->nodes[i + 1], sizeof(tq_node) * (size_t)(g->n_nodes - i - 1));
            g->n_nodes--;
            changed = true;
        }
    }
}

int tq_graph_splice(tq_graph *g, const bool *drop, tq_graph *fused)
{
    tq_node *nodes = calloc((size_t)(g->n_nodes + fused->n_nodes) + 1, sizeof *nodes);
    if (!nodes)
        return TQ_ENOMEM;
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (drop[i])
            tq_node_clear(&g->nodes[i]);
        else
            nodes[k++] = g->nodes[i];
    }
    for (int i = 0; i < fused->n_nodes; i++)
        nodes[k++] = fused->nodes[i];
    free(g->nodes);
    g->nodes = nodes;
    g->n_nodes = k;
    free(fused->nodes);
    fused->nodes = NULL;
    fused->n_nodes = 0;
    tq_graph_sweep_dead(g);
    return TQ_OK;
}
