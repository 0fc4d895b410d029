/* Small queries and edits over a graph that the rewrite passes share (fusion,
 * BatchNormalization folding): who produces or reads a value, constants
 * behind Identity nodes, fresh names, node removal. Linear scans: graphs are
 * tiny. */
#ifndef TQ_GRAPH_GRAPH_QUERY_H
#define TQ_GRAPH_GRAPH_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/ir.h"

/* Node n is op in the default ONNX domain. */
bool tq_node_is_onnx(const tq_node *n, const char *op);
bool tq_graph_is_output(const tq_graph *g, const char *name);
bool tq_graph_is_input(const tq_graph *g, const char *name);
/* Index of the node producing name, or -1. */
int tq_graph_producer(const tq_graph *g, const char *name);
/* The only node reading name, which is not a graph output; else -1. */
int tq_graph_sole_consumer(const tq_graph *g, const char *name);
/* The float32 initializer behind name, looking through Identity nodes (the
 * torch exporter writes them for shared parameters); NULL when name is not a
 * fixed constant (e.g. a graph input a caller may feed). */
const tq_tensor *tq_graph_const_float(const tq_graph *g, const char *name);
/* Write into buf a name no initializer, node output or graph input uses:
 * base + suffix, then base + suffix + "_1", ...; TQ_ENOMEM when it won't fit. */
int tq_graph_fresh_name(const tq_graph *g, const char *base, const char *suffix, char *buf,
                        size_t cap);
/* Remove node i, compacting the node array. */
void tq_graph_drop_node(tq_graph *g, int i);
/* Remove nodes none of whose outputs is read or is a graph output. */
void tq_graph_sweep_dead(tq_graph *g);
/* Drop the nodes flagged in drop[] (indexed like g->nodes), append the nodes
 * of `fused` (moved: fused ends empty), then sweep dead nodes. Node order
 * needs not be topological: the executor sorts. TQ_ENOMEM leaves g as is. */
int tq_graph_splice(tq_graph *g, const bool *drop, tq_graph *fused);
/* Replace a malloc'ed string slot with a copy of name. */
int tq_set_name(char **slot, const char *name);

#endif
