/* Internal seams of the quantiser: node selection, the two graph rewrites,
 * calibration, and the JSON report. */
#ifndef TQ_QUANT_INTERNAL_H
#define TQ_QUANT_INTERNAL_H

#include <stdbool.h>

#include "graph/ir.h"
#include "runtime/session_observer.h"
#include "tinyq/quantize.h"

/* True when the settings ask for this node to be quantised (op type listed,
 * or the default list; name not excluded). */
bool tq_quant_selected(const tq_quant_settings *s, const tq_node *n);

/* Channel axis of a weight for per-channel quantisation. */
int tq_quant_weight_axis(const tq_node *n);

/* Fetch a float32 weight initializer input of a node, or NULL when the input
 * is not a float32 initializer (then the node stays fp32). */
const tq_tensor *tq_quant_float_init(const tq_graph *g, const tq_node *n, int input);

/* Dynamic rewrite (ORT's QOperator dynamic graph). */
int tq_quantize_dynamic(tq_model *m, const tq_quant_settings *s, tq_quant_summary *sum,
                        tq_error *err);

/* Calibrated range of one tensor: per tensor, or (n_ch > 0) one range per
 * index of a channel axis; then rmin/rmax hold the union of the channels. */
typedef struct tq_range {
    char *name;
    float rmin, rmax;
    int axis;            /* n_ch > 0: the channel axis (>= 0) */
    int64_t n_ch;        /* 0: per tensor */
    float *cmin, *cmax;  /* [n_ch] */
} tq_range;

/* tq_calibrate's axes[i] for a tensor calibrated as a whole. */
#define TQ_CALIB_PER_TENSOR (-1000)

/* Deep copy of one range (dst overwritten; ENOMEM on failure). */
int tq_range_copy(tq_range *dst, const tq_range *src, tq_error *err);
void tq_range_clear(tq_range *r);

typedef struct tq_range_table {
    tq_range *r;
    int n;
    int64_t n_samples;
    char **input_names;  /* calibration inputs used, in model order */
    int n_input_names;
    /* what --equalize did before calibration (the report prints them) */
    int n_equalized_inputs, n_equalized_pairs, n_centered_inputs;
    /* qat: the ranges its fake quantisation trained with (the report prints
     * them next to the exported ones) */
    tq_range *trained;
    int n_trained;
} tq_range_table;

const tq_range *tq_range_find(const tq_range_table *t, const char *name);
void tq_range_table_free(tq_range_table *t);
/* Deep copy (dst is overwritten; free it with tq_range_table_free). */
int tq_range_table_copy(tq_range_table *dst, const tq_range_table *src, tq_error *err);

/* Run the model over the calibration .npz in mini-batches with an observer
 * and compute ranges for the named tensors. axes (may be NULL: all per
 * tensor): TQ_CALIB_PER_TENSOR, or the channel axis to calibrate each index
 * of separately (negative counts from the back, as ONNX). */
int tq_calibrate(const tq_model *m, const char *npz_path, const tq_quant_settings *s,
                 const char *const *names, const int *axes, int n_names, tq_range_table *out,
                 tq_error *err);

/* Stream the calibration .npz once through the fp32 model (unfused, in
 * calib_batch runs) with an observer; *n_samples gets the sample count. */
int tq_calib_observe(const tq_model *m, const char *npz_path, const tq_quant_settings *s,
                     tq_value_observer fn, void *user, int64_t *n_samples, tq_error *err);

/* The activation ranges the static QDQ rewrite of m would calibrate with
 * these settings on npz_path: its plan's tensors (inputs of quantised nodes,
 * outputs unless float_outputs, a folded Relu's or a following Clip's output
 * in place of the node's), through tq_calibrate. QAT trains with them. */
int tq_static_ranges(tq_model *m, const tq_quant_settings *s, const char *npz_path,
                     tq_range_table *ranges, tq_error *err);

/* Static QDQ rewrite. Calibrates through tq_calibrate, or, when fixed is
 * given, takes its ranges (made by tq_static_ranges on a model of the same
 * graph; npz_path is then unused). ranges receives the ranges used. */
int tq_quantize_static(tq_model *m, const tq_quant_settings *s, const char *npz_path,
                       const tq_range_table *fixed, tq_quant_summary *sum, tq_range_table *ranges,
                       tq_error *err);

#endif
