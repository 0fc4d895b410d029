/* Training data of the feature-vector regressor: the JSONL corpus (one row
 * per encode, SPEC §6), the --smoke corpus synthesised from a CRF-vs-score
 * function, or a plain CSV table (a real data set with its own columns). */
#ifndef TQ_TRAIN_DATASET_H
#define TQ_TRAIN_DATASET_H

#include <stddef.h>

#include "registry/codec_block.h"

#define TQ_CANONICAL_FEATURES 6
extern const char *const tq_canonical6[TQ_CANONICAL_FEATURES];

/* The codec block of the v2 FR regressor: the encoder vocabulary and layout
 * of fr_regressor_v2.json (11 encoders + unknown, preset_norm, crf_norm). */
#define TQ_CODEC_VOCAB 12
#define TQ_CODEC_WIDTH 14
extern const char *const tq_codec_vocab[TQ_CODEC_VOCAB];
extern const char *const tq_codec_layout_names[TQ_CODEC_WIDTH];

typedef struct tq_train_data {
    size_t n;              /* rows */
    int n_features;        /* F */
    int codec_width;       /* C, 0 when the model is codec-blind */
    char **feature_names;  /* F names (sidecar feature_order) */
    double *features;      /* [n, F] raw (unscaled) */
    double *codec;         /* [n, C] or NULL */
    double *target;        /* [n] */
    int *group;            /* [n] index into group_names, NULL when there are no groups */
    char **group_names;
    int n_groups;
    char *target_name;
} tq_train_data;

void tq_train_data_free(tq_train_data *d);

/* JSONL corpus: every non-blank line one JSON object with source (string),
 * vmaf_score and the canonical-6 features (numbers; top level or inside a
 * "features" object); codec_aware also needs encoder (string), preset
 * (string or number) and crf (number). A bad line fails with TQ_EFORMAT and
 * "<path>:<line>: <problem>". */
int tq_corpus_load_jsonl(const char *path, int codec_aware, tq_train_data *d, tq_error *err);

/* The deterministic smoke corpus: 100 rows, 5 sources x 5 encoders (one of
 * them outside the vocabulary) x 4 CRFs, score from a CRF-vs-quality curve
 * and features that follow the score with a little noise. Independent of
 * the training seed. */
int tq_corpus_smoke(int codec_aware, tq_train_data *d, tq_error *err);

/* CSV with a header row: every column a number except `group` (optional,
 * any text: rows sharing it form one leave-one-group-out fold). target NULL
 * = the last column. Fails with "<path>:<line>: <problem>". */
int tq_corpus_load_csv(const char *path, const char *target, const char *group,
                       tq_train_data *d, tq_error *err);

#endif
