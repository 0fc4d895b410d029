/* tinyq trainer API: train the feature-vector regressor (SPEC §6) and export
 * it as a standard ONNX file plus its sidecar.
 *
 * The data is a JSONL corpus (one row per encode: source, encoder, preset,
 * crf, bitrate_kbps, vmaf_score and the canonical-6 features), the built-in
 * smoke corpus, or a CSV table. A StandardScaler is fitted over the features
 * and written to the sidecar `<basename>.json` (not baked into the graph:
 * the registry loader applies it); the codec block of codec-aware (v2)
 * models is not scaled. A Gemm/ReLU MLP is trained with Adam on MSE, in
 * double precision, single-threaded: the same seed gives byte-identical
 * files. Validation is leave-one-source-out (one fold per source, or per
 * --group value of a CSV) or, without sources, seeded k-fold. The final
 * weights are trained on all rows.
 *
 * Errors: 0 or a negative TQ_E* code with a message naming the file (and
 * line) and the problem. A malformed corpus row is TQ_EFORMAT. */
#ifndef TINYQ_TRAIN_H
#define TINYQ_TRAIN_H

#include <stdint.h>

#include "tinyq/tinyq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_TRAIN_MAX_HIDDEN 6

/* Progress lines (fold results, summary) for a command-line caller. */
typedef void (*tq_train_log_fn)(void *user, const char *line);

typedef struct tq_train_settings {
    const char *corpus_path;   /* JSONL corpus; ignored with smoke */
    const char *csv_path;      /* or a CSV table (every column numeric except group) */
    const char *csv_target;    /* CSV target column (NULL = the last column) */
    const char *csv_group;     /* CSV group column -> leave-one-group-out (NULL = k-fold) */
    int codec_aware;           /* v2: second input `codec` [batch, 14] */
    int smoke;                 /* train on the built-in 100-row smoke corpus */
    const char *output_path;   /* MODEL.onnx; the sidecar is MODEL.json beside it */
    uint64_t seed;             /* weights init and mini-batch order (default 0) */
    int epochs;                /* default 300 */
    int batch_size;            /* default 16 */
    double lr;                 /* Adam step (default 0.003) */
    double weight_decay;       /* L2 on every parameter (default 1e-4) */
    int hidden[TQ_TRAIN_MAX_HIDDEN]; /* hidden widths (default 32,16) */
    int n_hidden;
    int folds;                 /* k of k-fold when there are no sources (default 5) */
    double ship_plcc;          /* ships when the mean fold PLCC >= this (default 0.95) */
    const char *report_path;   /* JSON report (NULL = none) */
    const char *registry_path; /* register the model here when it ships (or is smoke) */
    const char *command_line;  /* recorded in run_provenance (may be NULL) */
    tq_train_log_fn log;       /* may be NULL */
    void *log_user;
    uint8_t reserved[64];
} tq_train_settings;

TQ_API void tq_train_default_settings(tq_train_settings *s);

typedef struct tq_train_result {
    int64_t n_rows;
    int n_features;
    int codec_width;           /* 0 for codec-blind models */
    int n_folds;
    int kfold;                 /* 1 = k-fold, 0 = leave-one-source-out */
    double fold_plcc_mean;     /* over folds with a defined PLCC */
    double fold_plcc_std;      /* population std (ddof 0) of the same */
    double in_sample_plcc, in_sample_srocc, in_sample_rmse; /* final model, all rows */
    int ships;                 /* fold_plcc_mean >= ship_plcc */
    int registered;            /* an entry was written to registry_path */
    char note[256];            /* why it was (not) registered */
    uint8_t reserved[64];
} tq_train_result;

/* Train, export MODEL.onnx (opset 17, dynamic batch) and MODEL.json, write
 * the report, register when allowed. Outputs are written atomically; on
 * failure none is left behind. A model that does not clear ship_plcc is
 * still written (and reported), only not registered. */
TQ_API int tq_train_fr_regressor(const tq_train_settings *s, tq_train_result *result,
                                 tq_error *err);

#ifdef __cplusplus
}
#endif
#endif
