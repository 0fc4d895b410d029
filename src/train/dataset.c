/* Reading the trainer's corpora into one in-memory table (see dataset.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "train/dataset.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/pcg64.h"

const char *const tq_canonical6[TQ_CANONICAL_FEATURES] = {
    "adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2"};

const char *const tq_codec_vocab[TQ_CODEC_VOCAB] = {
    "libx264",  "libx265",    "libsvtav1", "libvvenc", "libvpx-vp9", "h264_nvenc",
    "hevc_nvenc", "av1_nvenc", "h264_qsv", "hevc_qsv", "av1_qsv",    "unknown"};

const char *const tq_codec_layout_names[TQ_CODEC_WIDTH] = {
    "encoder_onehot[libx264]",    "encoder_onehot[libx265]",   "encoder_onehot[libsvtav1]",
    "encoder_onehot[libvvenc]",   "encoder_onehot[libvpx-vp9]", "encoder_onehot[h264_nvenc]",
    "encoder_onehot[hevc_nvenc]", "encoder_onehot[av1_nvenc]", "encoder_onehot[h264_qsv]",
    "encoder_onehot[hevc_qsv]",   "encoder_onehot[av1_qsv]",   "encoder_onehot[unknown]",
    "preset_norm",                "crf_norm"};

void tq_train_data_free(tq_train_data *d)
{
    for (int i = 0; d->feature_names && i < d->n_features; i++)
        free(d->feature_names[i]);
    for (int i = 0; d->group_names && i < d->n_groups; i++)
        free(d->group_names[i]);
    free(d->feature_names);
    free(d->group_names);
    free(d->features);
    free(d->codec);
    free(d->target);
    free(d->group);
    free(d->target_name);
    memset(d, 0, sizeof *d);
}

/* One encode as the corpus describes it. */
typedef struct corpus_row {
    const char *source, *encoder, *preset;
    double crf, score, feat[TQ_CANONICAL_FEATURES];
} corpus_row;

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int group_index(tq_train_data *d, const char *name, tq_error *err)
{
    for (int i = 0; i < d->n_groups; i++)
        if (!strcmp(d->group_names[i], name))
            return i;
    char **g = realloc(d->group_names, (size_t)(d->n_groups + 1) * sizeof *g);
    if (!g)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    d->group_names = g;
    if (!(g[d->n_groups] = strdup(name)))
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    return d->n_groups++;
}

static int set_names(char ***out, const char *const *names, int n)
{
    *out = calloc((size_t)n, sizeof **out);
    if (!*out)
        return -1;
    for (int i = 0; i < n; i++)
        if (!((*out)[i] = strdup(names[i])))
            return -1;
    return 0;
}

/* Start an FR table (canonical-6, optional codec block) of capacity n. */
static int fr_table_init(tq_train_data *d, int codec_aware, size_t n, tq_error *err)
{
    memset(d, 0, sizeof *d);
    d->n_features = TQ_CANONICAL_FEATURES;
    d->codec_width = codec_aware ? TQ_CODEC_WIDTH : 0;
    size_t cap = n ? n : 1;
    d->features = malloc(cap * TQ_CANONICAL_FEATURES * sizeof(double));
    d->target = malloc(cap * sizeof(double));
    d->group = malloc(cap * sizeof(int));
    d->codec = codec_aware ? malloc(cap * TQ_CODEC_WIDTH * sizeof(double)) : NULL;
    d->target_name = strdup("vmaf_score");
    if (!d->features || !d->target || !d->group || (codec_aware && !d->codec) ||
        !d->target_name || set_names(&d->feature_names, tq_canonical6, TQ_CANONICAL_FEATURES))
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    return TQ_OK;
}

static int codec_layout(tq_codec_layout *L, tq_sidecar *sc, tq_error *err)
{
    memset(sc, 0, sizeof *sc);
    sc->encoder_vocab = (char **)tq_codec_vocab;
    sc->n_vocab = TQ_CODEC_VOCAB;
    sc->codec_layout = (char **)tq_codec_layout_names;
    sc->n_layout = TQ_CODEC_WIDTH;
    return tq_codec_layout_init(L, sc, TQ_CODEC_WIDTH, "trainer codec block", err);
}

/* Append a row to a table with room for it (fr_table_init capacity). */
static int fr_table_add(tq_train_data *d, const tq_codec_layout *L, const corpus_row *r,
                        tq_error *err)
{
    size_t i = d->n;
    memcpy(d->features + i * TQ_CANONICAL_FEATURES, r->feat, sizeof r->feat);
    d->target[i] = r->score;
    int g = group_index(d, r->source, err);
    if (g < 0)
        return g;
    d->group[i] = g;
    if (d->codec) {
        float block[TQ_CODEC_WIDTH];
        tq_codec_context ctx = {.encoder = r->encoder, .preset = r->preset, .crf = r->crf};
        tq_codec_fill(L, &ctx, block);
        for (int k = 0; k < TQ_CODEC_WIDTH; k++)
            d->codec[i * TQ_CODEC_WIDTH + (size_t)k] = block[k];
    }
    d->n++;
    return TQ_OK;
}

static int row_number(const cJSON *o, const cJSON *alt, const char *key, const char *path,
                      size_t line, int required, double *out, tq_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v && alt)
        v = cJSON_GetObjectItemCaseSensitive(alt, key);
    if (!v) {
        if (!required)
            return TQ_OK;
        return tq_fail(err, TQ_EFORMAT, "%s:%zu: missing '%s'", path, line, key);
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return tq_fail(err, TQ_EFORMAT, "%s:%zu: '%s' is not a finite number", path, line, key);
    *out = v->valuedouble;
    return TQ_OK;
}

static int row_string(const cJSON *o, const char *key, const char *path, size_t line,
                      int required, int allow_number, char *buf, size_t cap, const char **out,
                      tq_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v) {
        if (!required)
            return TQ_OK;
        return tq_fail(err, TQ_EFORMAT, "%s:%zu: missing '%s'", path, line, key);
    }
    if (cJSON_IsString(v) && v->valuestring[0]) {
        *out = v->valuestring;
        return TQ_OK;
    }
    if (allow_number && cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        /* SVT-AV1 presets are numbers (0..13) */
        snprintf(buf, cap, "%.15g", v->valuedouble);
        *out = buf;
        return TQ_OK;
    }
    return tq_fail(err, TQ_EFORMAT, "%s:%zu: '%s' is not a non-empty string", path, line, key);
}

static int parse_line(const char *path, size_t line, const char *text, int codec_aware,
                      tq_train_data *d, const tq_codec_layout *L, tq_error *err)
{
    cJSON *o = cJSON_Parse(text);
    if (!o)
        return tq_fail(err, TQ_EFORMAT, "%s:%zu: not valid JSON", path, line);
    int rc = TQ_OK;
    if (!cJSON_IsObject(o))
        rc = tq_fail(err, TQ_EFORMAT, "%s:%zu: not a JSON object", path, line);
    const cJSON *nested = cJSON_GetObjectItemCaseSensitive(o, "features");
    if (nested && !cJSON_IsObject(nested))
        nested = NULL;
    corpus_row r = {.crf = -1.0};
    char pbuf[64];
    if (!rc)
        rc = row_string(o, "source", path, line, 1, 0, NULL, 0, &r.source, err);
    if (!rc)
        rc = row_string(o, "encoder", path, line, codec_aware, 0, NULL, 0, &r.encoder, err);
    if (!rc)
        rc = row_string(o, "preset", path, line, codec_aware, 1, pbuf, sizeof pbuf, &r.preset,
                        err);
    if (!rc)
        rc = row_number(o, NULL, "crf", path, line, codec_aware, &r.crf, err);
    double kbps = 0.0;
    if (!rc)
        rc = row_number(o, NULL, "bitrate_kbps", path, line, 0, &kbps, err);
    if (!rc)
        rc = row_number(o, NULL, "vmaf_score", path, line, 1, &r.score, err);
    for (int k = 0; !rc && k < TQ_CANONICAL_FEATURES; k++)
        rc = row_number(o, nested, tq_canonical6[k], path, line, 1, &r.feat[k], err);
    if (!rc && codec_aware && r.crf < 0)
        rc = tq_fail(err, TQ_EFORMAT, "%s:%zu: 'crf' %g is negative", path, line, r.crf);
    if (!rc)
        rc = fr_table_add(d, L, &r, err);
    cJSON_Delete(o);
    return rc;
}

int tq_corpus_load_jsonl(const char *path, int codec_aware, tq_train_data *d, tq_error *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    memset(d, 0, sizeof *d);
    int rc = tq_read_file(path, &text, &len, err);
    if (rc)
        return rc;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    tq_codec_layout L;
    tq_sidecar sc;
    rc = fr_table_init(d, codec_aware, lines, err);
    if (!rc && codec_aware)
        rc = codec_layout(&L, &sc, err);
    const uint8_t *nul = memchr(text, '\0', len);
    if (!rc && nul) {
        size_t line = 1;
        for (const uint8_t *c = text; c < nul; c++)
            line += *c == '\n';
        rc = tq_fail(err, TQ_EFORMAT, "%s:%zu: NUL byte in the line", path, line);
    }
    char *p = (char *)text;
    for (size_t line = 1; !rc && p && *p; line++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        const char *s = p;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (*s)
            rc = parse_line(path, line, s, codec_aware, d, &L, err);
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    if (!rc && d->n < 4)
        rc = tq_fail(err, TQ_EFORMAT, "%s: %zu rows; training needs at least 4", path, d->n);
    if (rc)
        tq_train_data_free(d);
    return rc;
}

int tq_corpus_smoke(int codec_aware, tq_train_data *d, tq_error *err)
{
    static const char *const sources[] = {"smoke_crowd", "smoke_foreman", "smoke_park",
                                          "smoke_sintel", "smoke_tears"};
    static const double complexity[] = {0.9, 0.4, 0.7, 0.3, 0.55};
    static const double motion[] = {14.0, 6.0, 10.0, 3.0, 8.0};
    /* "mpeg4" is outside the vocabulary: it exercises the unknown slot. */
    static const char *const encoders[] = {"libx264", "libx265", "libsvtav1", "libvpx-vp9",
                                           "mpeg4"};
    static const char *const presets[] = {"medium", "slow", "8", "good", "medium"};
    static const double efficiency[] = {1.0, 0.85, 0.8, 0.9, 1.3};
    static const double crfs[] = {18, 26, 34, 42};
    int rc = fr_table_init(d, codec_aware, 100, err);
    tq_codec_layout L;
    tq_sidecar sc;
    if (!rc && codec_aware)
        rc = codec_layout(&L, &sc, err);
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, 20240517);
    for (int s = 0; !rc && s < 5; s++)
        for (int e = 0; !rc && e < 5; e++)
            for (int c = 0; !rc && c < 4; c++) {
                corpus_row r = {.source = sources[s], .encoder = encoders[e],
                                .preset = presets[e], .crf = crfs[c]};
                /* quality falls with CRF, faster for harder sources and
                 * weaker encoders */
                double loss = efficiency[e] * (0.6 + 0.8 * complexity[s]) * (crfs[c] - 10.0);
                double score = 100.0 - 1.1 * loss + 2.0 * (tq_pcg64_random_double(&rng) - 0.5);
                score = score < 0 ? 0 : score > 100 ? 100 : score;
                double q = score / 100.0;
                double noise[TQ_CANONICAL_FEATURES];
                for (int k = 0; k < TQ_CANONICAL_FEATURES; k++)
                    noise[k] = tq_pcg64_random_double(&rng) - 0.5;
                r.score = score;
                r.feat[0] = 0.70 + 0.30 * q + 0.01 * noise[0];
                r.feat[1] = 0.15 + 0.75 * q * q + 0.02 * noise[1];
                r.feat[2] = 0.45 + 0.50 * q + 0.015 * noise[2];
                r.feat[3] = 0.60 + 0.38 * q + 0.01 * noise[3];
                r.feat[4] = 0.70 + 0.29 * q + 0.01 * noise[4];
                r.feat[5] = motion[s] * (1.0 + 0.1 * noise[5]);
                rc = fr_table_add(d, &L, &r, err);
            }
    if (rc)
        tq_train_data_free(d);
    return rc;
}

/* Split one CSV line in place at commas; trims blanks and \r. */
static int split_csv(char *line, char ***fields, int *n)
{
    int count = 1;
    for (char *c = line; *c; c++)
        count += *c == ',';
    char **f = malloc((size_t)count * sizeof *f);
    if (!f)
        return -1;
    int k = 0;
    for (char *s = line;; k++) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        char *end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        f[k] = s;
        if (!comma)
            break;
        s = comma + 1;
    }
    *fields = f;
    *n = k + 1;
    return 0;
}

int tq_corpus_load_csv(const char *path, const char *target, const char *group,
                       tq_train_data *d, tq_error *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    memset(d, 0, sizeof *d);
    int rc = tq_read_file(path, &text, &len, err);
    if (rc)
        return rc;
    char **head = NULL;
    int n_cols = 0, t_col = -1, g_col = -1;
    size_t cap = 0, fcap = 0, gcap = 0;
    char *p = (char *)text, *nl;
    size_t line = 1;
    /* header */
    while (*p == '\n' || *p == '\r') {
        p++;
        line++;
    }
    nl = strchr(p, '\n');
    if (nl)
        *nl = '\0';
    if (!*p || split_csv(p, &head, &n_cols)) {
        free(text);
        return tq_fail(err, TQ_EFORMAT, "%s: no header row", path);
    }
    for (int c = 0; c < n_cols; c++) {
        if (!head[c][0])
            rc = tq_fail(err, TQ_EFORMAT, "%s:%zu: column %d has an empty name", path, line,
                         c + 1);
        if (target && !strcmp(head[c], target))
            t_col = c;
        if (group && !strcmp(head[c], group))
            g_col = c;
    }
    if (!target)
        t_col = n_cols - 1;
    if (!rc && t_col < 0)
        rc = tq_fail(err, TQ_EFORMAT, "%s: no column named '%s' (the --target)", path, target);
    if (!rc && group && g_col < 0)
        rc = tq_fail(err, TQ_EFORMAT, "%s: no column named '%s' (the --group)", path, group);
    if (!rc && g_col == t_col && g_col >= 0)
        rc = tq_fail(err, TQ_EINVAL, "%s: --group and --target name the same column", path);
    d->n_features = n_cols - 1 - (g_col >= 0);
    if (!rc && d->n_features < 1)
        rc = tq_fail(err, TQ_EFORMAT, "%s: no feature columns besides the target", path);
    if (!rc) {
        d->feature_names = calloc((size_t)d->n_features, sizeof *d->feature_names);
        d->target_name = strdup(head[t_col]);
        if (!d->feature_names || !d->target_name)
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        for (int c = 0, k = 0; !rc && c < n_cols; c++)
            if (c != t_col && c != g_col && !(d->feature_names[k++] = strdup(head[c])))
                rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    p = nl ? nl + 1 : NULL;
    for (line++; !rc && p && *p; line++) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        const char *s = p;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        char **f = NULL;
        int nf = 0;
        if (!*s) {
            p = nl ? nl + 1 : NULL;
            continue;
        }
        if (split_csv(p, &f, &nf)) {
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
            break;
        }
        if (nf != n_cols)
            rc = tq_fail(err, TQ_EFORMAT, "%s:%zu: %d fields, the header has %d", path, line,
                         nf, n_cols);
        if (!rc && (grow((void **)&d->target, &cap, d->n + 1, sizeof(double)) ||
                    grow((void **)&d->features, &fcap, (d->n + 1) * (size_t)d->n_features,
                         sizeof(double)) ||
                    (g_col >= 0 && grow((void **)&d->group, &gcap, d->n + 1, sizeof(int)))))
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        for (int c = 0, k = 0; !rc && c < n_cols; c++) {
            if (c == g_col) {
                int g = group_index(d, f[c], err);
                if (g < 0)
                    rc = g;
                else
                    d->group[d->n] = g;
                continue;
            }
            char *end;
            double v = strtod(f[c], &end);
            if (!f[c][0] || *end || !isfinite(v)) {
                rc = tq_fail(err, TQ_EFORMAT, "%s:%zu: column '%s': '%s' is not a finite number",
                             path, line, head[c], f[c]);
                break;
            }
            if (c == t_col)
                d->target[d->n] = v;
            else
                d->features[d->n * (size_t)d->n_features + (size_t)k++] = v;
        }
        free(f);
        if (!rc)
            d->n++;
        p = nl ? nl + 1 : NULL;
    }
    free(head);
    free(text);
    if (!rc && d->n < 4)
        rc = tq_fail(err, TQ_EFORMAT, "%s: %zu rows; training needs at least 4", path, d->n);
    if (rc)
        tq_train_data_free(d);
    return rc;
}
