/* The codec block of codec-aware feature models (fr_regressor_v2, SPEC §6):
 * one-hot over the sidecar's encoder_vocab (unknown names -> the "unknown"
 * slot), then preset_norm and crf_norm. The normalisation follows the trainer
 * of the system we replace (lusoris/vmaf ai/scripts/train_fr_regressor_v2.py):
 * preset_norm = per-encoder preset ordinal / 9 (ordinal 5, "medium", when the
 * preset is not in the encoder's table), crf_norm = crf / 63 (the union upper
 * CRF bound over the supported encoders; crf 23 when not given). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry/codec_block.h"
#include "util/error.h"

#define PRESET_MAX_ORDINAL 9.0
#define PRESET_DEFAULT_ORDINAL 5
#define CRF_MAX 63.0
#define CRF_DEFAULT 23.0

typedef struct preset_ord {
    const char *name;
    int ord;
} preset_ord;

static const preset_ord x26x[] = {{"ultrafast", 0}, {"superfast", 1}, {"veryfast", 2},
                                  {"faster", 3},    {"fast", 4},      {"medium", 5},
                                  {"slow", 6},      {"slower", 7},    {"veryslow", 8},
                                  {"placebo", 9},   {NULL, 0}};
static const preset_ord vvenc[] = {{"faster", 1}, {"fast", 3},    {"medium", 5},
                                   {"slow", 7},   {"slower", 8},  {NULL, 0}};
static const preset_ord vp9[] = {{"realtime", 0}, {"good", 5}, {"best", 9}, {NULL, 0}};
static const preset_ord nvenc[] = {{"p1", 0}, {"p2", 2}, {"p3", 3}, {"p4", 5},
                                   {"p5", 6}, {"p6", 7}, {"p7", 9}, {NULL, 0}};
static const preset_ord qsv[] = {{"veryfast", 2}, {"faster", 3}, {"fast", 4},  {"medium", 5},
                                 {"slow", 6},     {"slower", 7}, {"veryslow", 8}, {NULL, 0}};

/* Short names users type for the software encoders. */
static const char *const aliases[][2] = {
    {"h264", "libx264"}, {"x264", "libx264"},   {"hevc", "libx265"}, {"x265", "libx265"},
    {"av1", "libsvtav1"}, {"vvc", "libvvenc"}, {"vp9", "libvpx-vp9"},
};

const char *tq_codec_canonical_encoder(const char *name, char *buf, size_t cap)
{
    if (!name)
        return NULL;
    /* trim + lower-case, as the trainer does */
    while (isspace((unsigned char)*name))
        name++;
    size_t n = 0;
    for (; name[n] && n + 1 < cap; n++)
        buf[n] = (char)tolower((unsigned char)name[n]);
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(buf, aliases[i][0]) == 0)
            return aliases[i][1];
    return buf;
}

static int preset_ordinal(const char *encoder, const char *preset)
{
    if (!encoder || !preset)
        return PRESET_DEFAULT_ORDINAL;
    if (strcmp(encoder, "libsvtav1") == 0) {
        /* numeric presets 0..13, squashed to 0..9 */
        char *end;
        long v = strtol(preset, &end, 10);
        if (end != preset && !*end && v >= 0 && v <= 13)
            return v > 9 ? 9 : (int)v;
        return PRESET_DEFAULT_ORDINAL;
    }
    const preset_ord *t = NULL;
    if (!strcmp(encoder, "libx264") || !strcmp(encoder, "libx265"))
        t = x26x;
    else if (!strcmp(encoder, "libvvenc"))
        t = vvenc;
    else if (!strcmp(encoder, "libvpx-vp9"))
        t = vp9;
    else if (strstr(encoder, "_nvenc"))
        t = nvenc;
    else if (strstr(encoder, "_qsv"))
        t = qsv;
    for (; t && t->name; t++)
        if (strcasecmp(t->name, preset) == 0)
            return t->ord;
    return PRESET_DEFAULT_ORDINAL;
}

int tq_codec_layout_init(tq_codec_layout *L, const tq_sidecar *sc, int64_t width,
                         const char *where, tq_error *err)
{
    memset(L, 0, sizeof *L);
    L->width = width;
    L->unknown = L->preset = L->crf = -1;
    L->vocab = sc ? sc->encoder_vocab : NULL;
    L->n_vocab = sc ? sc->n_vocab : 0;
    if (sc && sc->n_layout) {
        if (sc->n_layout != width)
            return tq_fail(err, TQ_EFORMAT, "%s: codec_block_layout lists %d slots but the "
                           "model's codec input is %lld wide", where, sc->n_layout,
                           (long long)width);
        for (int i = 0; i < sc->n_layout; i++) {
            const char *s = sc->codec_layout[i];
            if (!strcmp(s, "preset_norm"))
                L->preset = i;
            else if (!strcmp(s, "crf_norm"))
                L->crf = i;
            else if (!strcmp(s, "encoder_onehot[unknown]"))
                L->unknown = i;
        }
        /* vocab slots are the "encoder_onehot[<name>]" entries, in layout order */
        L->layout = sc->codec_layout;
        L->n_layout = sc->n_layout;
    } else if (L->n_vocab && L->n_vocab + 2 == width) {
        /* no explicit layout: the trainer's one, vocab one-hot then preset, crf */
        for (int i = 0; i < L->n_vocab; i++)
            if (!strcmp(L->vocab[i], "unknown"))
                L->unknown = i;
        L->preset = L->n_vocab;
        L->crf = L->n_vocab + 1;
    } else {
        /* Nothing declared: SPEC's default, unknown at the third-from-last slot. */
        if (width >= 3) {
            L->unknown = (int)width - 3;
            L->preset = (int)width - 2;
            L->crf = (int)width - 1;
        }
    }
    if (L->unknown < 0)
        return tq_fail(err, TQ_EFORMAT, "%s: the codec block (%lld wide) has no 'unknown' "
                       "encoder slot", where, (long long)width);
    return TQ_OK;
}

/* Slot of a canonical encoder name, or -1. */
static int encoder_slot(const tq_codec_layout *L, const char *enc)
{
    char want[160];
    if (L->layout) {
        snprintf(want, sizeof want, "encoder_onehot[%s]", enc);
        for (int i = 0; i < L->n_layout; i++)
            if (!strcmp(L->layout[i], want))
                return i;
        return -1;
    }
    for (int i = 0; i < L->n_vocab; i++)
        if (!strcmp(L->vocab[i], enc))
            return i;
    return -1;
}

void tq_codec_fill(const tq_codec_layout *L, const tq_codec_context *ctx, float *block)
{
    memset(block, 0, (size_t)L->width * sizeof *block);
    if (!ctx) {
        block[L->unknown] = 1.0f;
        return;
    }
    char buf[128];
    const char *enc = tq_codec_canonical_encoder(ctx->encoder, buf, sizeof buf);
    int slot = enc && enc[0] ? encoder_slot(L, enc) : -1;
    block[slot >= 0 ? slot : L->unknown] = 1.0f;
    if (L->preset >= 0)
        block[L->preset] = (float)(preset_ordinal(slot >= 0 ? enc : NULL, ctx->preset) /
                                   PRESET_MAX_ORDINAL);
    if (L->crf >= 0)
        block[L->crf] = (float)((ctx->crf >= 0 ? ctx->crf : CRF_DEFAULT) / CRF_MAX);
}
