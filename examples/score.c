/* Embedding tinyq: score with a registry model by its id, knowing nothing
 * about which file, quant mode or scaler is behind it. Uses only the public
 * API (include/tinyq/registry.h) and links the shared library.
 *
 *   score REGISTRY ID [--codec ENCODER PRESET CRF] F1 F2 ... FN
 *       feature-vector models: one raw (unscaled) feature vector
 *   score REGISTRY ID
 *       image models: a mid-grey image of the model's size
 * Prints the score(s), one per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tinyq/registry.h>

static int fail(const tq_error *err)
{
    fprintf(stderr, "score: %s\n", err->msg[0] ? err->msg : tq_strerror(err->code));
    return err->code == TQ_ECHECK ? 1 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: score REGISTRY ID [--codec ENCODER PRESET CRF] [FEATURES...]\n");
        return 2;
    }
    tq_error err = {0};
    tq_registry *reg = NULL;
    tq_scorer *s = NULL;
    if (tq_registry_open(&reg, argv[1], &err) || tq_scorer_open(&s, reg, argv[2], NULL, &err)) {
        int rc = fail(&err);
        tq_registry_close(&reg);
        return rc;
    }
    tq_scorer_info info;
    tq_scorer_get_info(s, &info);
    int first = 3, rc = 0;
    tq_codec_context codec, *ctx = NULL;
    if (argc > 6 && strcmp(argv[3], "--codec") == 0) {
        codec = (tq_codec_context){.encoder = argv[4], .preset = argv[5], .crf = atof(argv[6])};
        ctx = &codec;
        first = 7;
    }
    if (info.input_kind == TQ_INPUT_FEATURES) {
        if (argc - first != info.features) {
            fprintf(stderr, "score: %s takes %lld features:", argv[2], (long long)info.features);
            for (int i = 0; i < info.features; i++)
                fprintf(stderr, " %s", tq_scorer_feature_name(s, i) ? tq_scorer_feature_name(s, i)
                                                                    : "?");
            fprintf(stderr, "\n");
            rc = 2;
        } else {
            float *x = malloc(sizeof(float) * (size_t)info.features), y[16];
            for (int i = 0; x && i < info.features; i++)
                x[i] = strtof(argv[first + i], NULL);
            if (!x || tq_scorer_score_features(s, x, 1, ctx, y, 16, &err))
                rc = x ? fail(&err) : 2;
            else
                for (int64_t i = 0; i < (info.outputs_per_sample > 0 ? info.outputs_per_sample : 1); i++)
                    printf("%.9g\n", y[i]);
            free(x);
        }
    } else {
        int64_t h = info.height > 0 ? info.height : 64, w = info.width > 0 ? info.width : 64;
        size_t n = (size_t)(info.channels * h * w);
        float *img = malloc(n * sizeof *img), *out = malloc(n * 4 * sizeof *out);
        size_t got = 0;
        for (size_t i = 0; img && i < n; i++)
            img[i] = 0.5f;
        if (!img || !out || tq_scorer_score_images(s, img, 1, h, w, out, n * 4, &got, &err))
            rc = img && out ? fail(&err) : 2;
        else
            for (size_t i = 0; i < got && i < 8; i++)
                printf("%.9g\n", out[i]);
        free(img);
        free(out);
    }
    tq_scorer_close(&s);
    tq_registry_close(&reg);
    return rc;
}
