/* The operator interface: every ONNX op is a tq_op_def with a prepare step
 * (shape/dtype inference, weight packing, scratch sizing — may allocate) and
 * an eval step (pure compute into planned memory — never allocates).
 *
 * The executor calls prepare once per distinct set of input shapes, in
 * topological order. Inputs whose data is known at prepare time (initializers
 * and values folded from them, e.g. the Shape -> Concat -> Reshape chain) are
 * flagged is_const and their data may be read in prepare. */
#ifndef TQ_RUNTIME_OP_H
#define TQ_RUNTIME_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/ir.h"

typedef struct tq_value {
    const char *name;
    tq_dtype dtype;
    int rank;
    int64_t dims[TQ_MAX_RANK];
    void *data;     /* valid in eval; in prepare only when is_const */
    size_t nbytes;
    bool is_const;
    /* A graph input: its data is the caller's and is readable in prepare too
     * (ONNX test models feed shapes/axes as inputs). Reading it there sets
     * read_in_prepare, and the session re-plans when its content changes. */
    bool is_graph_input;
    bool read_in_prepare;
    /* Min/max of a float value, set during eval by a producer that computed
     * them on the way (tinyq.DynQConv with attribute emit_range). Only a
     * consumer the fusion pass paired with such a producer reads them. */
    bool has_range;
    float range_min, range_max;
} tq_value;

typedef struct tq_op_ctx {
    const tq_node *node;
    int64_t opset;       /* opset version of the node's domain */
    int n_in, n_out;
    tq_value **in;       /* in[i] == NULL for an omitted optional input */
    tq_value **out;      /* prepare sets dtype, rank, dims of each output;
                            out[k] == NULL for an omitted optional output */
    void *state;         /* op-private, set in prepare, freed by release() */
    size_t scratch_bytes;/* set in prepare: per-eval scratch from the arena */
    void *scratch;       /* valid in eval */
    tq_error *err;
} tq_op_ctx;

typedef struct tq_op_def {
    const char *domain;  /* "" for ai.onnx, "com.microsoft" ... */
    const char *op_type;
    int (*prepare)(tq_op_ctx *c);
    int (*eval)(tq_op_ctx *c);
    void (*release)(void *state); /* may be NULL */
    /* Output depends only on input shapes (Shape): folded while planning even
     * when the input's data is computed at run time. */
    bool shape_only;
} tq_op_def;

/* Look up an op; NULL when tinyq does not implement it. */
const tq_op_def *tq_op_find(const char *domain, const char *op_type);

/* Each op family exports a NULL-terminated list (see op_registry.c). */
extern const tq_op_def *const tq_ops_elementwise[];
extern const tq_op_def *const tq_ops_activation[];
extern const tq_op_def *const tq_ops_shape[];
extern const tq_op_def *const tq_ops_reduce[];
extern const tq_op_def *const tq_ops_resize[];
extern const tq_op_def *const tq_ops_gemm[];
extern const tq_op_def *const tq_ops_conv[];
extern const tq_op_def *const tq_ops_pool[];
extern const tq_op_def *const tq_ops_norm[];
extern const tq_op_def *const tq_ops_quant[];

/* --- helpers shared by op implementations (op_util.c) */

/* Fail with "node 'name' (OpType): <message>". */
int tq_op_fail(tq_op_ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Check input count in [lo, hi] and output count >= 1. */
int tq_op_check_arity(tq_op_ctx *c, int lo, int hi);
/* Set output i's dtype and shape. */
void tq_value_set_shape(tq_value *v, tq_dtype dt, int rank, const int64_t *dims);
int64_t tq_value_numel(const tq_value *v);
/* Read a const int64/int32 input as int64 values (for shapes, axes, ...). */
int tq_op_const_ints(tq_op_ctx *c, int input, int64_t *out, int max, int *n);
/* Read a const float32/float16/double input as float values (for scales). */
int tq_op_const_floats(tq_op_ctx *c, int input, float *out, int max, int *n);
/* Numpy-style broadcast of two shapes; fails with a message on mismatch. */
int tq_broadcast_shape(tq_op_ctx *c, const tq_value *a, const tq_value *b, int *rank,
                       int64_t *dims);

#endif
