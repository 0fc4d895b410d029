/* Rebuilding a graph's node list in place, in topological order: the
 * quantisers walk the original nodes and either keep each one or emit its
 * replacement chain at the same position, so the written graph stays sorted
 * (the ONNX checker requires it). Also: collision-free names and clean-up of
 * initializers the rewrite left unused. */
#ifndef TQ_QUANT_REWRITER_H
#define TQ_QUANT_REWRITER_H

#include "graph/ir.h"

typedef struct tq_rewriter {
    tq_model *m;
    tq_graph *g;
    tq_node *old;   /* the original nodes, moved out one by one */
    int n_old;
    tq_error *err;
    int n_tags;
} tq_rewriter;

/* Take the node list out of m->graph (the graph then starts empty). */
void tq_rw_begin(tq_rewriter *rw, tq_model *m, tq_error *err);
/* Move original node i to the end of the new list. */
int tq_rw_keep(tq_rewriter *rw, int i);
/* Free what was not moved. */
void tq_rw_end(tq_rewriter *rw);

/* A value/node/initializer name that is not used anywhere yet:
 * base + suffix, then base + suffix + "_1", ... (malloc'ed). */
char *tq_rw_name(const tq_rewriter *rw, const char *base, const char *suffix);

/* A short fresh prefix ("tq0", "tq1", ...) for the values of one rewrite:
 * tiny models are mostly names, so generated names stay short (malloc'ed). */
char *tq_rw_tag(tq_rewriter *rw);

/* Append a node; inputs/outputs are copied ("" = omitted). NULL on ENOMEM
 * (err set). */
tq_node *tq_rw_emit(tq_rewriter *rw, const char *op_type, const char *name, int n_in,
                    const char *const *inputs, int n_out, const char *const *outputs);

/* Add an initializer under a fresh name derived from base+suffix; returns the
 * name (owned by the graph) or NULL on ENOMEM. */
const char *tq_rw_initializer(tq_rewriter *rw, const char *base, const char *suffix,
                              tq_dtype dtype, int rank, const int64_t *dims, const void *data);

/* Number of node inputs (in old and new lists) and graph outputs reading name. */
int tq_rw_consumers(const tq_rewriter *rw, const char *name);

/* Replace every node input `from` with `to` in the nodes not yet moved
 * (old list, indices > after) and in the new list. */
int tq_rw_rename_inputs(tq_rewriter *rw, int after, const char *from, const char *to);

/* Drop initializers no node reads (and their graph-input records, which old
 * IR versions keep), then every value_info record: shapes of rewritten
 * values would be stale, and ONNX shape inference recomputes them. */
void tq_graph_prune(tq_graph *g);

#endif
