/* tinyq quantiser API: fp32 ONNX model -> int8 ONNX model.
 *
 * Dynamic mode writes ONNX Runtime's dynamic-quantisation graph (int8
 * symmetric weights; activations through DynamicQuantizeLinear + MatMulInteger
 * / ConvInteger); static mode writes a QDQ graph calibrated on an .npz set.
 * qat mode fine-tunes with fake quantisation first and then exports like
 * static mode. All produce standard ONNX that ONNX Runtime runs. */
#ifndef TINYQ_QUANTIZE_H
#define TINYQ_QUANTIZE_H

#include "tinyq/tinyq.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum tq_calib_method {
    TQ_CALIB_MINMAX = 0,     /* observed min/max (ORT default) */
    TQ_CALIB_ENTROPY = 1,    /* KL search, 2048-bin |x| histogram, 128 levels */
    TQ_CALIB_PERCENTILE = 2, /* |x| percentile over a 2048-bin histogram */
    TQ_CALIB_MSE = 3,        /* threshold minimising the quantisation MSE (same histogram) */
} tq_calib_method;

/* Quantisation-aware training (mode TQ_QUANT_QAT): fake-quant fine-tuning of
 * the fp32 weights on a training .npz, then a static QDQ export. The fake
 * quantisation uses the export's own activation ranges (its method and
 * options, on the calibration set, or else on n_calibration samples of the
 * training set), computed once before training. Inputs and outputs of one
 * run. */
typedef enum tq_qat_optimizer { TQ_QAT_ADAM = 0, TQ_QAT_SGD = 1 } tq_qat_optimizer;

#define TQ_QAT_MAX_EPOCHS 1000

typedef struct tq_qat_settings {
    const char *train_npz;       /* inputs by model input name; optional `target`
                                    (MSE) or `label` (cross-entropy); neither:
                                    the fp32 model's outputs are the teacher */
    int epochs;                  /* 10 */
    double lr;                   /* 1e-4 = Adam's usual 1e-3 / 10 (SGD: 1e-3) */
    int batch;                   /* 32 */
    int n_calibration;           /* 64: samples of train_npz calibrated on when no
                                    calibration set is given */
    tq_qat_optimizer optimizer;  /* Adam */
    uint64_t seed;               /* shuffling and calibration sample (0) */
    int smoke;                   /* 1 epoch over at most 64 samples (CI) */
    int64_t max_train;           /* use at most this many samples (0 = all) */
    int centered;                /* MSE objectives: remove the error's batch mean first
                                    (a loss blind to a constant output offset, like
                                    the PLCC gate); 0 = plain MSE (default) */
    int recalibrate;             /* the fake quantisation trains with the ranges the
                                    static export calibrates on the model before
                                    training (frozen); 0: the export writes those
                                    ranges (default), 1: it calibrates again on the
                                    trained model (same data and method) */
    /* filled by the run */
    char objective[32];          /* "mse-target", "xent-label" or "mse-teacher" */
    int64_t n_train, n_steps, n_calibration_used;
    int n_fake_quant_weights, n_fake_quant_activations;
    int epochs_run;
    double epoch_loss[TQ_QAT_MAX_EPOCHS]; /* mean training objective per epoch (fake quant on) */
    double loss_before;          /* objective with fake quant before fine-tuning */
    double seconds;
} tq_qat_settings;

TQ_API void tq_qat_default_settings(tq_qat_settings *q);

typedef struct tq_quant_settings {
    tq_quant_mode mode;
    int per_channel;              /* weights: one scale per output channel */
    tq_dtype activation_type;     /* static: TQ_INT8 (default) or TQ_UINT8 */
    tq_calib_method method;       /* static calibration method */
    double percentile;            /* TQ_CALIB_PERCENTILE, in (0, 100]; 99.999 */
    int calib_batch;              /* samples per calibration run (16) */
    const char *const *exclude_nodes; /* node names left in fp32 */
    int n_exclude_nodes;
    const char *const *op_types;  /* op types to quantise; NULL = all supported */
    int n_op_types;
    tq_qat_settings *qat;         /* TQ_QUANT_QAT: training knobs and results */
    int reduce_range;             /* weights 7-bit like ONNX Runtime's reduce_range:
                                     int8 symmetric in [-64, 64] (activations
                                     unchanged); lets CPUs without VNNI use the
                                     fast exact u8 x s8 vpmaddubsw kernels */
    /* static/qat: quantise only the inputs of quantised nodes, as the dynamic
     * graph does: an output gets its Q/DQ only as the input of another
     * quantised node, and readers that are not quantised nodes (a skip Add)
     * keep the float tensor. Closest ORT setting: extra_options
     * OpTypesToExcludeOutputQuantization = the quantised op types (ORT's
     * shared Q/DQ pairs still feed every reader). Off by default (ORT's
     * default quantises every output). */
    int float_outputs;
    /* static/qat: before calibration (and before QAT's fine-tuning), rescale
     * channels so the per-tensor activation ranges of quantised nodes' inputs
     * become comparable, exactly in float (the fp32 function is unchanged up
     * to float rounding). Input equalisation: a Gemm/MatMul/Conv input made by
     * Div or Mul by a per-channel constant (an in-graph standardisation) gets
     * each channel rescaled through that constant, and centred through a Sub
     * constant before it when the consumer has a bias and no padding; the
     * consumer's weights take the inverse scale. Cross-layer equalisation:
     * Conv/Gemm/MatMul -> (Relu) -> Conv/Gemm/MatMul chains whose middle
     * tensors have one reader each scale the producer's output channels and
     * the consumer's input channels inversely. Channel j's scale follows
     * SmoothQuant: s_j = max|x_j|^a / max|W[:, j]|^(1 - a) from the
     * calibration set's per-channel ranges (geometric mean 1). Off by default. */
    int equalize;
    float equalize_alpha_input;   /* a for standardised inputs, in (0, 1]; 0 = 0.75 */
    float equalize_alpha_layers;  /* a for cross-layer pairs, in (0, 1]; 0 = 0.5 */
    /* static/qat: every activation tensor quantised as the input of a
     * quantised Conv/Gemm/MatMul gets per-axis Q/DQ (1-D scale and zero
     * point) along the axis the weight's input channels multiply (Conv: 1;
     * Gemm: 1, 0 with transA; MatMul: the last), each channel calibrated on
     * its own statistics with the chosen method. The bias of such a node
     * stays float (there is no single bias scale). Stay per tensor: outputs
     * no quantised node reads, MatMul inputs, and a Conv's input and output
     * when its output is quantised right after it (ONNX Runtime fuses those
     * groups into integer ops that reject per-axis activation parameters).
     * Off by default. */
    int per_channel_activations;
    uint8_t reserved[64 - sizeof(void *) - 4 * sizeof(int) - 2 * sizeof(float)]; /* zero; room for new settings */
} tq_quant_settings;

TQ_API void tq_quant_default_settings(tq_quant_settings *s);

/* What a quantisation did (filled by tq_quantize_model / tq_quantize_file). */
typedef struct tq_quant_summary {
    int n_nodes_quantized;        /* Conv/ConvTranspose/Gemm/MatMul rewritten */
    int n_nodes_skipped;          /* candidates left in fp32 (excluded, unsupported) */
    int64_t n_calib_samples;      /* static: samples seen */
    uint64_t fp32_bytes, int8_bytes; /* tq_quantize_file: file sizes (incl. external data) */
} tq_quant_summary;

/* Rewrite a loaded model in place. calibration_npz is required for static
 * mode (one [N, ...] stack per model input name). value_info duplicates are
 * stripped first. On failure the model is left in an unspecified state:
 * free it. */
TQ_API int tq_quantize_model(tq_model *m, const tq_quant_settings *s, const char *calibration_npz,
                             tq_quant_summary *summary, tq_error *err);

/* Load, quantise, and atomically write output_path (NULL = "<basename>.int8.onnx"
 * beside the input). The input file is never modified; on failure nothing is
 * written. report_path (may be NULL) receives a JSON report with run
 * provenance; command_line (may be NULL) is recorded in it. */
TQ_API int tq_quantize_file(const char *model_path, const char *output_path,
                            const tq_quant_settings *s, const char *calibration_npz,
                            const char *report_path, const char *command_line,
                            tq_quant_summary *summary, tq_error *err);

/* --mode auto: try dynamic, then static, then qat; measure each against the
 * budget with the gate metric (SPEC §4 synthetic-set PLCC drop) and, with an
 * evaluation set, the task metric drop (top-1 for `label`, PLCC for
 * `target`); keep the cheapest that passes. */
typedef struct tq_auto_trial {
    tq_quant_mode mode;
    int tried;                 /* 0: skipped (see why) */
    int pass;
    double plcc, drop;         /* gate metric */
    int has_task;
    double task_fp32, task_int8, task_drop; /* task metric (top-1 or PLCC) */
    char why[256];
} tq_auto_trial;

typedef struct tq_auto_settings {
    double budget;             /* 0.01 */
    const char *calibration;   /* static: calibration set (NULL: the qat training set) */
    const char *data;          /* optional evaluation set (label or target) */
    /* filled by the run */
    tq_quant_mode chosen;      /* TQ_QUANT_FP32 when nothing passed */
    tq_auto_trial trials[3];   /* dynamic, static, qat */
} tq_auto_settings;

/* Writes the chosen model to output_path (NULL = default) and the report
 * (with an "auto" section) to report_path. Returns TQ_ECHECK, writing no
 * model, when no mode stays inside the budget (the report is still written). */
TQ_API int tq_quantize_auto_file(const char *model_path, const char *output_path,
                                 tq_quant_settings *s, tq_auto_settings *a,
                                 const char *report_path, const char *command_line,
                                 tq_quant_summary *summary, tq_error *err);

/* "<dir>/<basename>.int8.onnx" for "<dir>/<basename>.onnx" (malloc'ed). */
TQ_API char *tq_quant_default_output(const char *model_path);

#ifdef __cplusplus
}
#endif
#endif
