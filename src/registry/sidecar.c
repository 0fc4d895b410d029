/* Sidecar `<basename>.json` next to a model: feature names, an optional
 * StandardScaler and the codec-block layout. Two spellings exist in the
 * system we replace and both are read: feature_order/feature_mean/feature_std
 * (FR regressors) and features/input_mean/input_std (vmaf_tiny_v*). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "registry/registry_internal.h"
#include "util/error.h"
#include "util/fileio.h"

static const cJSON *first_of(const cJSON *o, const char *a, const char *b, const char **used)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    *used = a;
    if (!v) {
        v = cJSON_GetObjectItemCaseSensitive(o, b);
        *used = b;
    }
    return v;
}

static int read_strings(const cJSON *arr, const char *path, const char *key, char ***out,
                        int *n, tq_error *err)
{
    *out = NULL;
    *n = 0;
    if (!arr)
        return TQ_OK;
    if (!cJSON_IsArray(arr))
        return tq_fail(err, TQ_EFORMAT, "%s: %s: not an array of strings", path, key);
    int count = cJSON_GetArraySize(arr);
    *out = calloc((size_t)count + 1, sizeof **out);
    if (!*out)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    int i = 0;
    for (const cJSON *v = arr->child; v; v = v->next, i++) {
        if (!cJSON_IsString(v))
            return tq_fail(err, TQ_EFORMAT, "%s: %s[%d]: not a string", path, key, i);
        if (!((*out)[i] = strdup(v->valuestring)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        (*n)++;
    }
    return TQ_OK;
}

static int read_numbers(const cJSON *arr, const char *path, const char *key, double **out,
                        int *n, tq_error *err)
{
    *out = NULL;
    *n = 0;
    if (!arr)
        return TQ_OK;
    if (!cJSON_IsArray(arr))
        return tq_fail(err, TQ_EFORMAT, "%s: %s: not an array of numbers", path, key);
    int count = cJSON_GetArraySize(arr);
    *out = calloc((size_t)count + 1, sizeof **out);
    if (!*out)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    int i = 0;
    for (const cJSON *v = arr->child; v; v = v->next, i++) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return tq_fail(err, TQ_EFORMAT, "%s: %s[%d]: not a finite number", path, key, i);
        (*out)[i] = v->valuedouble;
    }
    *n = count;
    return TQ_OK;
}

static int parse(const cJSON *root, const char *path, tq_sidecar *sc, tq_error *err)
{
    if (!cJSON_IsObject(root))
        return tq_fail(err, TQ_EFORMAT, "%s: sidecar is not a JSON object", path);
    const char *kf, *km, *ks;
    const cJSON *feat = first_of(root, "feature_order", "features", &kf);
    const cJSON *mean = first_of(root, "feature_mean", "input_mean", &km);
    const cJSON *std = first_of(root, "feature_std", "input_std", &ks);
    int rc = read_strings(feat, path, kf, &sc->features, &sc->n_features, err);
    int n_mean = 0, n_std = 0;
    if (!rc)
        rc = read_numbers(mean, path, km, &sc->mean, &n_mean, err);
    if (!rc)
        rc = read_numbers(std, path, ks, &sc->std, &n_std, err);
    if (!rc && (!mean) != (!std))
        rc = tq_fail(err, TQ_EFORMAT, "%s: scaler has %s but no %s", path, mean ? km : ks,
                     mean ? ks : km);
    if (!rc && n_mean != n_std)
        rc = tq_fail(err, TQ_EFORMAT, "%s: %s has %d values but %s has %d", path, km, n_mean,
                     ks, n_std);
    if (!rc && mean && sc->n_features && n_mean != sc->n_features)
        rc = tq_fail(err, TQ_EFORMAT, "%s: %s has %d values for %d features (%s)", path, km,
                     n_mean, sc->n_features, kf);
    for (int i = 0; !rc && i < n_std; i++)
        if (!(sc->std[i] > 0))
            rc = tq_fail(err, TQ_EFORMAT, "%s: %s[%d] = %g: a scale must be > 0", path, ks, i,
                         sc->std[i]);
    sc->n_scaler = mean ? n_mean : 0;
    if (!rc)
        rc = read_strings(cJSON_GetObjectItemCaseSensitive(root, "encoder_vocab"), path,
                          "encoder_vocab", &sc->encoder_vocab, &sc->n_vocab, err);
    if (!rc)
        rc = read_strings(cJSON_GetObjectItemCaseSensitive(root, "codec_block_layout"), path,
                          "codec_block_layout", &sc->codec_layout, &sc->n_layout, err);
    return rc;
}

int tq_sidecar_load(const char *path, tq_sidecar *sc, tq_error *err)
{
    memset(sc, 0, sizeof *sc);
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = tq_read_file(path, &text, &len, err);
    if (rc)
        return rc;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)text, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - (const char *)text) : 0;
        free(text);
        return tq_fail(err, TQ_EFORMAT, "%s: malformed JSON near byte %zu", path, at);
    }
    free(text);
    rc = parse(root, path, sc, err);
    cJSON_Delete(root);
    if (rc)
        tq_sidecar_free(sc);
    return rc;
}

static void free_strings(char **s, int n)
{
    for (int i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

void tq_sidecar_free(tq_sidecar *sc)
{
    if (!sc)
        return;
    /* Arrays are calloc'ed one longer and NULL-filled, so freeing past n is safe. */
    for (int i = 0; sc->features && sc->features[i]; i++)
        free(sc->features[i]);
    free(sc->features);
    free(sc->mean);
    free(sc->std);
    free_strings(sc->encoder_vocab, sc->n_vocab);
    free_strings(sc->codec_layout, sc->n_layout);
    memset(sc, 0, sizeof *sc);
}
