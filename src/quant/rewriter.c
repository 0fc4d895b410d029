/* Node-list rebuilding, fresh names and unused-initializer pruning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_query.h"
#include "quant/rewriter.h"
#include "util/error.h"

void tq_rw_begin(tq_rewriter *rw, tq_model *m, tq_error *err)
{
    rw->m = m;
    rw->g = &m->graph;
    rw->old = rw->g->nodes;
    rw->n_old = rw->g->n_nodes;
    rw->g->nodes = NULL;
    rw->g->n_nodes = 0;
    rw->err = err;
    rw->n_tags = 0;
}

static tq_node *append_slot(tq_rewriter *rw)
{
    tq_graph *g = rw->g;
    tq_node *p = realloc(g->nodes, (size_t)(g->n_nodes + 1) * sizeof(tq_node));
    if (!p) {
        tq_fail(rw->err, TQ_ENOMEM, "out of memory rewriting the graph");
        return NULL;
    }
    g->nodes = p;
    tq_node *n = &p[g->n_nodes++];
    memset(n, 0, sizeof(*n));
    return n;
}

int tq_rw_keep(tq_rewriter *rw, int i)
{
    tq_node *slot = append_slot(rw);
    if (!slot)
        return TQ_ENOMEM;
    *slot = rw->old[i];
    memset(&rw->old[i], 0, sizeof(tq_node));
    return TQ_OK;
}

void tq_rw_end(tq_rewriter *rw)
{
    for (int i = 0; i < rw->n_old; i++)
        tq_node_clear(&rw->old[i]);
    free(rw->old);
    rw->old = NULL;
    rw->n_old = 0;
}

static bool node_uses(const tq_node *n, const char *name)
{
    if (n->name && strcmp(n->name, name) == 0)
        return true;
    for (int k = 0; k < n->n_inputs; k++)
        if (strcmp(n->inputs[k], name) == 0)
            return true;
    for (int k = 0; k < n->n_outputs; k++)
        if (strcmp(n->outputs[k], name) == 0)
            return true;
    return false;
}

static bool name_taken(const tq_rewriter *rw, const char *name)
{
    const tq_graph *g = rw->g;
    for (int i = 0; i < rw->n_old; i++)
        if (rw->old[i].op_type && node_uses(&rw->old[i], name))
            return true;
    for (int i = 0; i < g->n_nodes; i++)
        if (node_uses(&g->nodes[i], name))
            return true;
    for (int i = 0; i < g->n_initializers; i++)
        if (strcmp(g->initializers[i].name, name) == 0)
            return true;
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->inputs[i].name, name) == 0)
            return true;
    for (int i = 0; i < g->n_outputs; i++)
        if (strcmp(g->outputs[i].name, name) == 0)
            return true;
    return false;
}

char *tq_rw_name(const tq_rewriter *rw, const char *base, const char *suffix)
{
    size_t len = strlen(base) + strlen(suffix) + 24;
    char *s = malloc(len);
    if (!s)
        return NULL;
    snprintf(s, len, "%s%s", base, suffix);
    for (int k = 1; name_taken(rw, s); k++)
        snprintf(s, len, "%s%s_%d", base, suffix, k);
    return s;
}

char *tq_rw_tag(tq_rewriter *rw)
{
    char buf[32];
    snprintf(buf, sizeof buf, "tq%d", rw->n_tags++);
    return strdup(buf);
}

tq_node *tq_rw_emit(tq_rewriter *rw, const char *op_type, const char *name, int n_in,
                    const char *const *inputs, int n_out, const char *const *outputs)
{
    tq_node *n = tq_graph_add_node(rw->g, op_type, name);
    if (!n) {
        tq_fail(rw->err, TQ_ENOMEM, "out of memory rewriting the graph");
        return NULL;
    }
    for (int k = 0; k < n_in; k++)
        if (tq_node_add_input(n, inputs[k])) {
            tq_fail(rw->err, TQ_ENOMEM, "out of memory rewriting the graph");
            return NULL;
        }
    for (int k = 0; k < n_out; k++)
        if (tq_node_add_output(n, outputs[k])) {
            tq_fail(rw->err, TQ_ENOMEM, "out of memory rewriting the graph");
            return NULL;
        }
    return n;
}

const char *tq_rw_initializer(tq_rewriter *rw, const char *base, const char *suffix,
                              tq_dtype dtype, int rank, const int64_t *dims, const void *data)
{
    char *name = tq_rw_name(rw, base, suffix);
    tq_tensor *t = name ? tq_graph_add_initializer(rw->g, name, dtype, rank, dims, data) : NULL;
    free(name);
    if (!t) {
        tq_fail(rw->err, TQ_ENOMEM, "out of memory adding initializer %s%s", base, suffix);
        return NULL;
    }
    return t->name;
}

static int count_reads(const tq_node *nodes, int n, const char *name)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        if (nodes[i].op_type)
            for (int k = 0; k < nodes[i].n_inputs; k++)
                c += strcmp(nodes[i].inputs[k], name) == 0;
    return c;
}

int tq_rw_consumers(const tq_rewriter *rw, const char *name)
{
    return count_reads(rw->old, rw->n_old, name) + count_reads(rw->g->nodes, rw->g->n_nodes, name) +
           (tq_graph_is_output(rw->g, name) ? 1 : 0);
}

static int rename_in(tq_node *n, const char *from, const char *to)
{
    for (int k = 0; k < n->n_inputs; k++)
        if (strcmp(n->inputs[k], from) == 0) {
            char *s = strdup(to);
            if (!s)
                return TQ_ENOMEM;
            free(n->inputs[k]);
            n->inputs[k] = s;
        }
    return TQ_OK;
}

int tq_rw_rename_inputs(tq_rewriter *rw, int after, const char *from, const char *to)
{
    for (int i = after + 1; i < rw->n_old; i++)
        if (rw->old[i].op_type && rename_in(&rw->old[i], from, to))
            return tq_fail(rw->err, TQ_ENOMEM, "out of memory rewriting the graph");
    for (int i = 0; i < rw->g->n_nodes; i++)
        if (rename_in(&rw->g->nodes[i], from, to))
            return tq_fail(rw->err, TQ_ENOMEM, "out of memory rewriting the graph");
    return TQ_OK;
}

void tq_graph_prune(tq_graph *g)
{
    int kept = 0;
    for (int i = 0; i < g->n_initializers; i++) {
        tq_tensor *t = &g->initializers[i];
        bool used = count_reads(g->nodes, g->n_nodes, t->name) > 0 ||
                    tq_graph_is_output(g, t->name);
        if (used) {
            g->initializers[kept++] = *t;
            continue;
        }
        /* Old IR versions list weights as graph inputs too: drop that record,
         * or the pruned weight would turn into a required input. */
        int in_kept = 0;
        for (int k = 0; k < g->n_inputs; k++) {
            if (strcmp(g->inputs[k].name, t->name) == 0)
                tq_value_info_clear(&g->inputs[k]);
            else
                g->inputs[in_kept++] = g->inputs[k];
        }
        g->n_inputs = in_kept;
        tq_tensor_clear(t);
    }
    g->n_initializers = kept;
    for (int i = 0; i < g->n_value_info; i++)
        tq_value_info_clear(&g->value_info[i]);
    g->n_value_info = 0;
}
