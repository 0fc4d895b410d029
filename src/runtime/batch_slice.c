/* Batch slicing: a large batch runs as consecutive slices of a few images
 * through one plan made for the slice, so every intermediate activation of
 * the chain stays in L2 instead of streaming the whole batch through L3 once
 * per op (the CNN fixture at batch 64 moves 3.2 MB per activation). Results
 * are identical: it is only done when every op computes each sample from
 * that sample alone (an allowlist checked on the planned shapes), never for
 * ops whose result depends on the whole batch (DynamicQuantizeLinear's range,
 * reductions over axis 0, Reshape that may merge the batch). */
#include <stdlib.h>
#include <string.h>

#include "runtime/session_internal.h"
#include "util/error.h"

/* A slice's activations should fit in half of L2 (the rest holds the
 * largest op's scratch, weights and packed panels). */
#define SLICE_ACTIVATION_BYTES (512 * 1024)
#define SLICE_MAX_IMAGES 8

typedef enum op_kind { OP_OTHER, OP_PER_SAMPLE, OP_BROADCAST, OP_ROWS, OP_AXIS } op_kind;

static op_kind kind_of(const tq_node *n)
{
    static const char *const per_sample[] = {
        "Conv", "FusedConv", "ConvTranspose", "BatchNormalization", "Relu", "LeakyRelu",
        "Sigmoid", "Tanh", "Clip", "Identity", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf",
        "Floor", "Ceil", "Reciprocal", "Cast", "MaxPool", "AveragePool", "GlobalAveragePool",
        "GlobalMaxPool", "QLinearConv", NULL
    };
    static const char *const broadcast[] = { "Add", "Sub", "Mul", "Div", "QEltwise", NULL };
    /* A [rows, k] activation times constant weights, row by row */
    static const char *const rows[] = { "Gemm", "MatMul", "QLinearMatMul", "QGemm", NULL };
    /* per sample unless the attribute axis names the batch */
    static const char *const axis[] = { "Flatten", "Softmax", "QuantizeLinear",
                                        "DequantizeLinear", "Concat", NULL };
    const char *op = n->op_type;
    for (int i = 0; per_sample[i]; i++)
        if (strcmp(op, per_sample[i]) == 0)
            return OP_PER_SAMPLE;
    for (int i = 0; broadcast[i]; i++)
        if (strcmp(op, broadcast[i]) == 0)
            return OP_BROADCAST;
    for (int i = 0; rows[i]; i++)
        if (strcmp(op, rows[i]) == 0)
            return OP_ROWS;
    for (int i = 0; axis[i]; i++)
        if (strcmp(op, axis[i]) == 0)
            return OP_AXIS;
    return OP_OTHER;
}

/* Is the planned node (at batch k >= 2) per sample? Every run-time input and
 * output carries the batch on axis 0; constants never do. */
static bool node_per_sample(const exec_node *en, int64_t k)
{
    const tq_op_ctx *c = &en->ctx;
    op_kind kind = kind_of(en->node);
    if (kind == OP_OTHER)
        return false;
    int out_rank = 0;
    for (int i = 0; i < c->n_out; i++) {
        const tq_value *v = c->out[i];
        if (!v)
            continue;
        if (v->rank < 1 || v->dims[0] != k)
            return false;
        out_rank = v->rank;
    }
    for (int i = 0; i < c->n_in; i++) {
        const tq_value *v = c->in[i];
        if (!v)
            continue;
        if (!v->is_const) {
            if (v->rank < 1 || v->dims[0] != k)
                return false;
            if (kind == OP_ROWS && i > 0) /* only A may be an activation */
                return false;
        } else if (kind == OP_BROADCAST && v->rank == out_rank && v->dims[0] != 1) {
            return false; /* a constant with its own batch axis */
        } else if (kind == OP_ROWS && i == 0) {
            return false;
        }
    }
    if (kind == OP_ROWS && strcmp(en->node->op_type, "Gemm") == 0 &&
        tq_node_attr_int(en->node, "transA", 0) != 0)
        return false;
    if (kind == OP_ROWS && c->in[0] && c->in[0]->rank != 2 &&
        strcmp(en->node->op_type, "MatMul") != 0)
        return false;
    if (kind == OP_AXIS) {
        const char *op = en->node->op_type;
        int rank = c->in[0] ? c->in[0]->rank : 0;
        int64_t dflt = strcmp(op, "Softmax") == 0 ? -1 : 1;
        if (strcmp(op, "Softmax") == 0 && en->ctx.opset < 13)
            return false; /* it flattens from `axis` into 2-D: refused, not reasoned about */
        if (strcmp(op, "Concat") == 0)
            dflt = 0; /* required attribute; 0 if absent means the batch */
        int64_t axis = tq_node_attr_int(en->node, "axis", dflt);
        if (axis < 0)
            axis += rank;
        /* per-tensor (De)QuantizeLinear ignores axis */
        bool per_tensor = (strcmp(op, "QuantizeLinear") == 0 ||
                           strcmp(op, "DequantizeLinear") == 0) &&
                          c->n_in > 1 && c->in[1] && c->in[1]->rank == 0;
        if (axis == 0 && !per_tensor)
            return false;
    }
    return true;
}

bool tq_slice_plan_is_per_sample(const tq_session *s, int64_t k)
{
    for (int i = 0; i < s->n_nodes; i++)
        if (!s->nodes[i].folded && !node_per_sample(&s->nodes[i], k))
            return false;
    for (int i = 0; i < s->n_graph_outputs; i++) {
        const tq_value *v = &s->values[s->graph_outputs[i]].v;
        if (v->is_const || v->rank < 1 || v->dims[0] != k)
            return false;
    }
    return true;
}

/* The batch of a run, when slicing could apply: every input has a dynamic
 * axis 0 of the same size, nobody watches the tensors, no input is read
 * while planning. 0 otherwise. */
static int64_t sliceable_batch(const tq_session *s, const tq_tensor_view *inputs, int n_inputs)
{
    if (s->slice_off || s->observer || n_inputs != s->n_graph_inputs || n_inputs < 1)
        return 0;
    int64_t n = -1;
    for (int i = 0; i < s->n_graph_inputs; i++) {
        const tq_value_info *info = s->input_infos[i];
        const tq_value *v = &s->values[s->graph_inputs[i]].v;
        if (info->rank < 1 || info->dims[0] >= 0 || v->read_in_prepare)
            return 0;
        const tq_tensor_view *t = NULL;
        for (int j = 0; j < n_inputs; j++)
            if (inputs[j].name && strcmp(inputs[j].name, info->name) == 0)
                t = &inputs[j];
        if (!t || t->rank < 1 || (n >= 0 && t->dims[0] != n))
            return 0;
        n = t->dims[0];
    }
    return n;
}

/* Views of slice [b0, b0 + k) of the caller's inputs. */
static void slice_views(const tq_tensor_view *inputs, int n_inputs, int64_t b0, int64_t k,
                        tq_tensor_view *views)
{
    for (int i = 0; i < n_inputs; i++) {
        views[i] = inputs[i];
        size_t row = tq_dtype_size(inputs[i].dtype);
        for (int d = 1; d < inputs[i].rank; d++)
            row *= (size_t)inputs[i].dims[d];
        views[i].dims[0] = k;
        views[i].data = (uint8_t *)inputs[i].data + (size_t)b0 * row;
    }
}

/* Images per slice for batch n: the largest divisor of n (so every slice
 * shares one plan) up to SLICE_MAX_IMAGES whose activations fit
 * SLICE_ACTIVATION_BYTES, measured by planning one image (its arena minus
 * the largest scratch, which does not grow with the batch); 0: run whole. */
static int choose_slice(tq_session *s, const tq_tensor_view *inputs, int n_inputs, int64_t n,
                        int64_t *images, tq_error *err)
{
    tq_tensor_view views[TQ_SLICE_MAX_INPUTS];
    slice_views(inputs, n_inputs, 0, 1, views);
    *images = 0;
    /* plan for one image (nothing is evaluated) */
    int rc = tq_session_bind(s, views, n_inputs, err);
    if (rc || !tq_slice_plan_is_per_sample(s, 1))
        return rc;
    size_t scratch = 0;
    for (int i = 0; i < s->n_nodes; i++)
        if (s->nodes[i].ctx.scratch_bytes > scratch)
            scratch = s->nodes[i].ctx.scratch_bytes;
    size_t one = s->arena_bytes > scratch ? s->arena_bytes - scratch : 0;
    if ((size_t)n * one <= SLICE_ACTIVATION_BYTES)
        return TQ_OK; /* the whole batch fits already: slices would only add calls */
    for (int64_t k = SLICE_MAX_IMAGES; k >= 2; k--)
        if (n % k == 0 && n > k && (size_t)k * one <= SLICE_ACTIVATION_BYTES) {
            *images = k;
            break;
        }
    return TQ_OK;
}

/* Stop slicing this session; forget a probe's error. */
static void give_up(tq_session *s, tq_error *err)
{
    s->slice_off = true;
    if (err) {
        err->code = TQ_OK;
        err->msg[0] = '\0';
    }
}

int tq_session_run(tq_session *s, const tq_tensor_view *inputs, int n_inputs,
                   tq_tensor_view *outputs, int n_outputs, tq_error *err)
{
    if (!s)
        return tq_fail(err, TQ_EINVAL, "tq_session_run: no session");
    int64_t n = n_inputs <= TQ_SLICE_MAX_INPUTS && s->n_graph_outputs <= TQ_SLICE_MAX_INPUTS
                    ? sliceable_batch(s, inputs, n_inputs)
                    : 0;
    if (n >= 4 && n != s->slice_for_batch) {
        int64_t k;
        if (choose_slice(s, inputs, n_inputs, n, &k, err) != TQ_OK) {
            /* a graph that cannot run one image (a Reshape to a fixed batch,
             * say) may still run the whole batch: never slice it */
            give_up(s, err);
            return tq_session_run_once(s, inputs, n_inputs, outputs, n_outputs, err);
        }
        s->slice_for_batch = n;
        s->slice_images = k;
    }
    if (n < 4 || n != s->slice_for_batch || s->slice_images < 2)
        return tq_session_run_once(s, inputs, n_inputs, outputs, n_outputs, err);

    int64_t k = s->slice_images;
    tq_tensor_view views[TQ_SLICE_MAX_INPUTS], outs[TQ_SLICE_MAX_INPUTS];
    for (int64_t b0 = 0; b0 < n; b0 += k) {
        slice_views(inputs, n_inputs, b0, k, views);
        int rc = tq_session_run_once(s, views, n_inputs, outs, s->n_graph_outputs, err);
        if (rc && b0 > 0)
            return rc;
        if (rc || !tq_slice_plan_is_per_sample(s, k)) {
            /* the slice failed where the whole batch may not, or its shapes
             * showed a batch-wide op: never slice again */
            give_up(s, err);
            return tq_session_run_once(s, inputs, n_inputs, outputs, n_outputs, err);
        }
        for (int i = 0; i < s->n_graph_outputs; i++) {
            const tq_value *v = &s->values[s->graph_outputs[i]].v;
            size_t whole = v->nbytes / (size_t)k * (size_t)n;
            if (b0 == 0 && whole > s->slice_out_bytes[i]) {
                void *p = realloc(s->slice_out[i], whole);
                if (!p)
                    return tq_fail(err, TQ_ENOMEM, "out of memory for %zu bytes of outputs",
                                   whole);
                s->slice_out[i] = p;
                s->slice_out_bytes[i] = whole;
            }
            memcpy((uint8_t *)s->slice_out[i] + v->nbytes / (size_t)k * (size_t)b0, v->data,
                   v->nbytes);
        }
    }
    for (int i = 0; i < n_outputs && i < s->n_graph_outputs; i++) {
        tq_session_output_view(s, i, &outputs[i]);
        outputs[i].dims[0] = n;
        outputs[i].data = s->slice_out[i];
    }
    return TQ_OK;
}
