/* Internals shared by the registry layer: the parsed registry, the sidecar,
 * the trust-root loader and the baked-scaler detection. */
#ifndef TQ_REGISTRY_INTERNAL_H
#define TQ_REGISTRY_INTERNAL_H

#include <cjson/cJSON.h>

#include "graph/ir.h"
#include "tinyq/registry.h"

#define TQ_DEFAULT_BUDGET 0.01

struct tq_registry {
    char *path;  /* as given (for messages) */
    char *dir;   /* its folder: entry paths are relative to it */
    cJSON *root;
    int schema_version; /* -1 when absent or not 0/1 */
    tq_registry_entry *entries;
    cJSON **entry_json;  /* the entry objects, for the validator */
    int n;
};

/* "fp32" ... -> mode; -1 for anything else. */
int tq_quant_mode_parse(const char *s);

/* dir/onnx with ".onnx" replaced by `suffix` (".int8.onnx", ".json", ".onnx"). */
char *tq_registry_entry_file(const tq_registry *reg, const tq_registry_entry *e,
                             const char *suffix);

/* Read a whole file, check its sha256 against `expect` (lower-case hex) before
 * anything parses it, then load it (external data relative to its folder).
 * `what` names the registry field for messages ("sha256" / "int8_sha256"). */
int tq_trusted_model_load(const char *path, const char *expect, const char *what,
                          const char *reg_path, const char *id, tq_model **out, tq_error *err);

/* Open entry i's model through the trust root; *path receives the file opened. */
int tq_registry_load_entry(const tq_registry *reg, int i, tq_model **out, char **path,
                           tq_error *err);

/* ---- sidecar <basename>.json */
typedef struct tq_sidecar {
    char **features;
    int n_features;
    double *mean, *std; /* both NULL or both n_scaler long */
    int n_scaler;
    char **encoder_vocab;
    int n_vocab;
    char **codec_layout;
    int n_layout;
} tq_sidecar;

/* Parse a sidecar; either spelling (feature_order/feature_mean/feature_std or
 * features/input_mean/input_std). Missing file -> TQ_EIO. */
int tq_sidecar_load(const char *path, tq_sidecar *sc, tq_error *err);
void tq_sidecar_free(tq_sidecar *sc);

/* ---- StandardScaler placement */

/* Find a scaler baked at graph input `input`: input -> Sub(const) -> Div(const),
 * the Sub being the input's only consumer. Returns 1 and the F constants (as
 * float, F = *n) when found, 0 when not. mean/std are malloc'ed. */
int tq_baked_scaler_find(const tq_model *m, const char *input, float **mean, float **std,
                         int64_t *n);

/* Decide who applies the scaler: TQ_SCALER_GRAPH when baked (the sidecar, if
 * it has one, must agree within float32 rounding), TQ_SCALER_LOADER when only
 * the sidecar has one, TQ_SCALER_NONE otherwise. A disagreeing pair fails with
 * TQ_EFORMAT naming the feature. */
int tq_scaler_decide(const tq_model *m, const char *input, const tq_sidecar *sc,
                     const char *where, tq_scaler_site *site, tq_error *err);

const char *tq_scaler_site_name(tq_scaler_site s);

/* Print a JSON document in the registry's layout (2-space indent, one member
 * per line, ASCII with \u escapes, trailing newline) into a malloc'ed
 * buffer; used for sidecars the trainer writes. Returns 0 or -1. */
int tq_json_format(const cJSON *root, char **out, size_t *len);

#endif
