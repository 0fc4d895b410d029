/* Session internals shared by the executor (session.c) and the memory
 * planner (planner.c). */
#ifndef TQ_RUNTIME_SESSION_INTERNAL_H
#define TQ_RUNTIME_SESSION_INTERNAL_H

#include "runtime/op.h"
#include "runtime/session_observer.h"

/* Inputs and outputs a sliced run handles (more: the batch runs whole). */
#define TQ_SLICE_MAX_INPUTS 16

typedef enum value_kind {
    VALUE_ACTIVATION = 0, /* produced by a node at run time: lives in the arena */
    VALUE_INITIALIZER,    /* points at the model's tensor data */
    VALUE_INPUT,          /* points at the caller's buffer during a run */
    VALUE_FOLDED,         /* computed while planning, heap buffer owned here */
} value_kind;

typedef struct exec_node {
    const tq_node *node;
    const tq_op_def *def;
    tq_op_ctx ctx;
    int *in_idx;     /* value index per input, -1 when omitted */
    int *out_idx;
    bool folded;     /* all outputs computed while planning */
    size_t scratch_offset;
} exec_node;

typedef struct value_slot {
    tq_value v;
    value_kind kind;
    int producer;    /* exec_node index, -1 for inputs/initializers */
    int last_use;    /* last exec_node index reading it; n_nodes if graph output */
    size_t offset;   /* arena offset for activations */
    void *prepared_content; /* graph inputs read in prepare: the data planned for */
} value_slot;

struct tq_session {
    const tq_model *model;
    tq_model *fused_model; /* owned rewrite of the caller's model (graph/fuse.h), or NULL */
    value_slot *values;
    int n_values;
    exec_node *nodes; /* topological order */
    int n_nodes;
    int *graph_inputs;  /* value index per runtime input (initializers excluded) */
    int n_graph_inputs;
    int *graph_outputs;
    int n_graph_outputs;
    const tq_value_info **input_infos;
    bool planned;
    uint8_t *arena;
    size_t arena_bytes;
    size_t arena_capacity;
    tq_value_observer observer;
    void *observer_user;
    /* batch slicing (batch_slice.c): the batch the choice was made for, the
     * images per slice (0: run whole), and the whole-batch outputs */
    bool slice_off;
    int64_t slice_for_batch, slice_images;
    void *slice_out[TQ_SLICE_MAX_INPUTS];
    size_t slice_out_bytes[TQ_SLICE_MAX_INPUTS];
};

/* Bind a run's inputs and plan for their shapes when they changed (no
 * evaluation). */
int tq_session_bind(tq_session *s, const tq_tensor_view *inputs, int n_inputs, tq_error *err);
/* One run of the current plan (re-planning when the shapes changed), the
 * executor proper; tq_session_run adds batch slicing around it. */
int tq_session_run_once(tq_session *s, const tq_tensor_view *inputs, int n_inputs,
                        tq_tensor_view *outputs, int n_outputs, tq_error *err);
/* Output i of the last run as a view (data in the arena). */
void tq_session_output_view(const tq_session *s, int i, tq_tensor_view *o);
/* Would the current plan (made for batch k) give every sample the result it
 * gets alone? Only allowlisted per-sample ops, batch on axis 0 everywhere. */
bool tq_slice_plan_is_per_sample(const tq_session *s, int64_t k);

/* tq_session_create with graph fusion on or off. Integer fusion never
 * changes results; fp32 fusion (Conv+BN folding, FusedConv) only rounds
 * differently, and folds intermediate values away: observers that watch
 * every tensor (calibration) and tests comparing fused with unfused
 * execution turn it off. */
int tq_session_create_ex(tq_session **out, const tq_model *m, bool fuse, tq_error *err);

/* Place activations and scratch buffers in one arena using lifetimes
 * (largest first, lowest offset that fits among overlapping lifetimes);
 * returns the arena size. */
size_t tq_plan_arena(tq_session *s);

#endif
