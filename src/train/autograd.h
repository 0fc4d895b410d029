/* A trainable view of an fp32 IR model: forward and backward passes over the
 * graph for the ops QAT needs (Conv 2-D, Gemm, MatMul, Relu, Add/Sub/Mul/Div
 * with broadcasting, GlobalAveragePool, Flatten, Reshape, Squeeze,
 * Unsqueeze, Concat, Identity, Constant, Clip), with optional fake quantisation
 * placed exactly where the static QDQ export puts Q/DQ pairs: on the
 * activation input and the output (after a folded Relu, or a Clip) of every node the
 * quantiser selects, and on its weight (symmetric int8, per tensor or per
 * output channel). Float32 throughout; the graph owns copies of the
 * initializers, the trainable ones are the Conv/Gemm/MatMul weights and
 * biases, and tq_ag_write_back puts them into a model. */
#ifndef TQ_TRAIN_AUTOGRAD_H
#define TQ_TRAIN_AUTOGRAD_H

#include <stdint.h>

#include "graph/ir.h"
#include "tinyq/quantize.h"

typedef struct tq_ag_graph tq_ag_graph;

/* How activation ranges of fake-quant nodes change during forward passes. */
typedef enum tq_ag_range_mode {
    TQ_AG_RANGE_FROZEN = 0,   /* use the stored ranges */
    TQ_AG_RANGE_OBSERVE = 1,  /* widen the stored ranges to what this pass sees */
} tq_ag_range_mode;

/* Build from a model whose BatchNormalization is already folded. qs selects
 * the quantised nodes, their weight granularity (per_channel) and the
 * activation type (int8/uint8, asymmetric as the static export); qs = NULL
 * builds a plain fp32 graph with no fake quantisation. */
int tq_ag_build(tq_ag_graph **out, const tq_model *m, const tq_quant_settings *qs, tq_error *err);
void tq_ag_free(tq_ag_graph **g);

/* Graph inputs (model order, initializers excluded) and their per-sample shape
 * (dims after the batch axis). */
int tq_ag_n_inputs(const tq_ag_graph *g);
const char *tq_ag_input_name(const tq_ag_graph *g, int i);
int64_t tq_ag_input_sample_numel(const tq_ag_graph *g, int i);

/* Forward on a batch: inputs[i] holds `batch` samples of input i. */
int tq_ag_forward(tq_ag_graph *g, const float *const *inputs, int64_t batch, tq_error *err);
/* The first graph output of the last forward pass (numel = its element count). */
const float *tq_ag_output(const tq_ag_graph *g, int64_t *numel, int *rank, int64_t *dims);
/* Backward from dLoss/dOutput (numel of the output); fills parameter grads. */
int tq_ag_backward(tq_ag_graph *g, const float *dy, tq_error *err);

/* Switch fake quantisation on/off (off = the plain fp32 model) and choose how
 * activation ranges evolve; tq_ag_reset_ranges forgets observed ranges. */
void tq_ag_set_fake_quant(tq_ag_graph *g, int on);
void tq_ag_set_range_mode(tq_ag_graph *g, tq_ag_range_mode mode);
void tq_ag_reset_ranges(tq_ag_graph *g);
int tq_ag_n_fake_quant(const tq_ag_graph *g, int *n_weights, int *n_activations);

/* The activation fake quants, i in [0, n_activations) in graph order: the
 * name of the tensor each quantises (the name the static export's range
 * table uses) and its range. QAT sets the export's calibrated ranges here
 * (tq_ag_set_act_range marks the range as present) and keeps them frozen. */
const char *tq_ag_act_name(const tq_ag_graph *g, int i);
int tq_ag_act_range(const tq_ag_graph *g, int i, float *rmin, float *rmax); /* 0: none yet */
void tq_ag_set_act_range(tq_ag_graph *g, int i, float rmin, float rmax);
/* Per-channel ranges along axis (the export's per-axis Q/DQ with
 * per_channel_activations); set after tq_ag_set_act_range, cleared by
 * tq_ag_reset_ranges. Returns -1 on bad arguments or ENOMEM. Only frozen
 * ranges are per channel (observing widens the per-tensor range). */
int tq_ag_set_act_channel_ranges(tq_ag_graph *g, int i, int axis, int64_t n_ch,
                                 const float *cmin, const float *cmax);
/* The per-channel ranges of activation fake quant i (borrowed); 0 = none. */
int64_t tq_ag_act_channel_ranges(const tq_ag_graph *g, int i, int *axis, const float **cmin,
                                 const float **cmax);

/* Trainable parameters (float initializers of Conv/Gemm/MatMul). */
int tq_ag_n_params(const tq_ag_graph *g);
float *tq_ag_param(tq_ag_graph *g, int i, float **grad, int64_t *numel, const char **name);

/* Copy the current parameters into the model's initializers of the same name. */
int tq_ag_write_back(const tq_ag_graph *g, tq_model *m, tq_error *err);

#endif
