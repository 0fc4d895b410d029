/* Codec block of codec-aware feature models: layout from the sidecar, and the
 * block for a codec context (see codec_block.c for the normalisation). */
#ifndef TQ_REGISTRY_CODEC_BLOCK_H
#define TQ_REGISTRY_CODEC_BLOCK_H

#include "registry/registry_internal.h"

typedef struct tq_codec_layout {
    int64_t width;
    int unknown, preset, crf; /* slot indices; preset/crf -1 when absent */
    char **vocab;             /* borrowed from the sidecar */
    int n_vocab;
    char **layout;            /* borrowed; NULL when the sidecar has no layout */
    int n_layout;
} tq_codec_layout;

int tq_codec_layout_init(tq_codec_layout *L, const tq_sidecar *sc, int64_t width,
                         const char *where, tq_error *err);
/* ctx NULL: the pre-seeded "unknown encoder" block (unknown slot 1, all else 0). */
void tq_codec_fill(const tq_codec_layout *L, const tq_codec_context *ctx, float *block);
/* Trimmed, lower-cased name with the trainer's aliases resolved (x264 -> libx264). */
const char *tq_codec_canonical_encoder(const char *name, char *buf, size_t cap);

#endif
