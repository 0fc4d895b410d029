/* tinyq quantiser API: fp32 ONNX model -> int8 ONNX model.
 *
 * Dynamic mode writes ONNX Runtime's dynamic-quantisation graph (int8
 * symmetric weights; activations through DynamicQuantizeLinear + MatMulInteger
 * / ConvInteger); static mode writes a QDQ graph calibrated on an .npz set.
 * Both produce standard ONNX that ONNX Runtime runs. */
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
} tq_calib_method;

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
    uint8_t reserved[64];         /* zero; room for new settings */
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

/* "<dir>/<basename>.int8.onnx" for "<dir>/<basename>.onnx" (malloc'ed). */
TQ_API char *tq_quant_default_output(const char *model_path);

#ifdef __cplusplus
}
#endif
#endif
