/* tinyq registry API: open a model by its registry id and score feature
 * vectors or images, with no knowledge of which file or quant mode is behind it.
 *
 * The registry (models/tiny/registry.json, SPEC §3) is the trust root: the
 * loader opens `<basename>.int8.onnx` for non-fp32 entries and `<basename>.onnx`
 * for fp32 ones, checks the file's sha256 against the registry BEFORE parsing a
 * byte of it, reads the sidecar `<basename>.json` (feature names, optional
 * StandardScaler, codec-block layout), and applies the scaler exactly once:
 * not at all when the same scaler is baked into the graph.
 *
 * Threads: a tq_registry is read-only after tq_registry_open. A tq_scorer may
 * be used by any number of threads at once (it keeps a lock-free pool of
 * execution sessions); only tq_scorer_close must not race with scoring.
 *
 * Errors: every function returns 0 or a negative TQ_E* code (tinyq.h) and
 * fills the caller's tq_error with a message naming the registry, the entry
 * id or file, and the problem. */
#ifndef TINYQ_REGISTRY_H
#define TINYQ_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "tinyq/tinyq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tq_registry tq_registry; /* a parsed registry.json */
typedef struct tq_scorer tq_scorer;     /* one opened entry, ready to score */

/* ---- registry ------------------------------------------------------------ */

/* Parse a registry file. Fails (TQ_EIO / TQ_EFORMAT) only when the file cannot
 * be read or is not JSON ("<path>:<line>:<col>: ..."); schema problems are
 * reported by tq_registry_validate, and by the loader for the entry it opens. */
TQ_API int tq_registry_open(tq_registry **out, const char *path, tq_error *err);
TQ_API void tq_registry_close(tq_registry **reg);

TQ_API int tq_registry_num_entries(const tq_registry *reg);


TQ_API const char *tq_quant_mode_name(tq_quant_mode mode);

/* One entry as written in the registry (strings borrowed from the registry;
 * NULL when the field is absent or not a string). */
typedef struct tq_registry_entry {
    const char *id;
    const char *kind;          /* "fr" | "nr" | "filter" */
    const char *onnx;          /* as written: relative to the registry's folder */
    const char *sha256;
    const char *int8_sha256;
    const char *quant_calibration_set;
    tq_quant_mode quant_mode;  /* fp32 when absent */
    double budget_plcc;        /* quant_accuracy_budget_plcc, 0.01 when absent */
    int smoke;                 /* 1 = load-path probe, skipped by quality runs */
    int opset;                 /* 0 when absent */
    uint8_t reserved[32];
} tq_registry_entry;

/* Entry i in file order (0 <= i < tq_registry_num_entries). */
TQ_API int tq_registry_entry_at(const tq_registry *reg, int i, tq_registry_entry *out);
/* Index of the entry with this id, or TQ_EINVAL with "unknown id" in err. */
TQ_API int tq_registry_find(const tq_registry *reg, const char *id, tq_error *err);

/* The file the loader opens for entry `id` (int8 sibling for non-fp32 modes),
 * as a path usable from the current directory, written into buf. */
TQ_API int tq_registry_resolve(const tq_registry *reg, const char *id, char *buf, size_t cap,
                               tq_error *err);

/* Check the schema and every referenced file: sha256 / int8_sha256, the
 * sidecar, the calibration set of static entries, the op set of the model
 * files, input ranks and the sidecar scaler against a baked one. Each problem
 * is passed to `report` as "<registry>: entry '<id>': <field>: <problem>".
 * Returns the number of problems (0 = valid) or a negative error code. */
typedef void (*tq_registry_report_fn)(void *user, const char *problem);
TQ_API int tq_registry_validate(const tq_registry *reg, tq_registry_report_fn report,
                                void *user, tq_error *err);

/* Record a quantisation result in the registry file at `path`, rewriting it
 * atomically: sets quant_mode, int8_sha256 and (when calibration_set is not
 * NULL) quant_calibration_set of entry `id`; every other field, unknown ones
 * included, keeps its value and position. The file keeps the seed registry's
 * layout (2-space indent, ASCII with \u escapes). */
TQ_API int tq_registry_record_quant(const char *path, const char *id, tq_quant_mode mode,
                                    const char *int8_sha256, const char *calibration_set,
                                    tq_error *err);

/* Register a model file in the registry at `path` (created when missing),
 * rewriting it atomically: the entry `id` gets kind, onnx (the file's path
 * relative to the registry's folder; the model must lie inside it), opset 17,
 * sha256 of the file, smoke and (when not NULL) notes. An existing entry
 * with that id is updated in place and loses quant_mode / int8_sha256 /
 * quant_calibration_set (its int8 sibling was made from other weights);
 * every other entry and field keeps its value and position. */
TQ_API int tq_registry_register_model(const char *path, const char *id, const char *kind,
                                      const char *onnx_path, int smoke, const char *notes,
                                      tq_error *err);

/* ---- scoring ------------------------------------------------------------- */

typedef struct tq_scorer_settings {
    /* Execution sessions kept for reuse (0 = default 8). More concurrent
     * callers than this still work: they get a temporary session. */
    int max_sessions;
    uint8_t reserved[60];
} tq_scorer_settings;

TQ_API void tq_scorer_default_settings(tq_scorer_settings *s);

/* Open entry `id`: trust-root load of the file, sidecar, scaler decision. */
TQ_API int tq_scorer_open(tq_scorer **out, const tq_registry *reg, const char *id,
                          const tq_scorer_settings *settings, tq_error *err);
TQ_API void tq_scorer_close(tq_scorer **s);

typedef enum tq_input_kind {
    TQ_INPUT_FEATURES = 1, /* [batch, F] feature vectors (+ optional [batch, C] codec block) */
    TQ_INPUT_IMAGE = 2,    /* [batch, C, H, W] images */
} tq_input_kind;

typedef enum tq_scaler_site {
    TQ_SCALER_NONE = 0,    /* no StandardScaler anywhere */
    TQ_SCALER_LOADER = 1,  /* sidecar scaler, applied by the loader */
    TQ_SCALER_GRAPH = 2,   /* baked into the graph (Sub/Div); the loader does not scale */
} tq_scaler_site;

typedef struct tq_scorer_info {
    const char *id;
    const char *path;          /* the file that was opened */
    tq_quant_mode quant_mode;
    tq_input_kind input_kind;
    tq_scaler_site scaler;
    int64_t features;          /* F for feature models, else 0 */
    int64_t codec_width;       /* C of the codec block input, 0 when none */
    int64_t channels, height, width; /* image models; -1 for dynamic dims */
    int64_t outputs_per_sample;/* elements of the first output per sample; -1 if dynamic */
    const char *input_name;    /* first graph input */
    const char *codec_input_name; /* NULL when none */
    const char *output_name;   /* first graph output (the score) */
    uint8_t reserved[32];
} tq_scorer_info;

TQ_API int tq_scorer_get_info(const tq_scorer *s, tq_scorer_info *out);
/* Feature name i from the sidecar (NULL when out of range or not declared). */
TQ_API const char *tq_scorer_feature_name(const tq_scorer *s, int i);

/* Codec context of a codec-aware model (SPEC §6). encoder NULL / unknown name
 * -> the "unknown" slot; preset NULL -> the trainer's default ordinal
 * ("medium", 5 of 9); crf < 0 -> the trainer's default 23. preset_norm =
 * per-encoder preset ordinal / 9, crf_norm = crf / 63 (the trainer's union
 * CRF bound). Passing a NULL context to the score functions means "no codec
 * context": the block is the one-hot "unknown" slot alone (all else 0). */
typedef struct tq_codec_context {
    const char *encoder; /* e.g. "libx264"; aliases x264/h264/hevc/x265/av1/vp9/vvc */
    const char *preset;  /* e.g. "medium", "8" (svt-av1), "p4" (nvenc) */
    double crf;
} tq_codec_context;

/* Fill `block` (cap >= codec_width floats) with the codec block the scorer
 * would feed for `ctx` (NULL = no context). */
TQ_API int tq_scorer_codec_block(const tq_scorer *s, const tq_codec_context *ctx, float *block,
                                 size_t cap, tq_error *err);

/* Score `batch` raw (unscaled) feature vectors, row-major [batch, F] in the
 * sidecar's feature order. `out` receives the first output, flattened:
 * batch * outputs_per_sample floats (out_cap is checked). */
TQ_API int tq_scorer_score_features(tq_scorer *s, const float *features, int64_t batch,
                                    const tq_codec_context *codec, float *out, size_t out_cap,
                                    tq_error *err);

/* Score `batch` NCHW images of height h and width w (channels from the model).
 * *out_len (may be NULL) receives the number of floats written. */
TQ_API int tq_scorer_score_images(tq_scorer *s, const float *images, int64_t batch, int64_t h,
                                  int64_t w, float *out, size_t out_cap, size_t *out_len,
                                  tq_error *err);

#ifdef __cplusplus
}
#endif
#endif
