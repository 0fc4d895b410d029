/* Parsing registry.json (cJSON) into entries, lookup by id, and the loader's
 * file redirect (`<basename>.int8.onnx` for non-fp32 modes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_internal.h"
#include "util/error.h"
#include "util/fileio.h"

static const char *const mode_names[] = {"fp32", "dynamic", "static", "qat"};

TQ_API const char *tq_quant_mode_name(tq_quant_mode mode)
{
    return (unsigned)mode < 4 ? mode_names[mode] : "unknown";
}

int tq_quant_mode_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, mode_names[i]) == 0)
            return i;
    return -1;
}

/* 1-based line and column of byte offset `at` in text. */
static void line_col(const char *text, size_t at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static const char *str_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void fill_entry(tq_registry_entry *e, const cJSON *o)
{
    memset(e, 0, sizeof *e);
    e->id = str_field(o, "id");
    e->kind = str_field(o, "kind");
    e->onnx = str_field(o, "onnx");
    e->sha256 = str_field(o, "sha256");
    e->int8_sha256 = str_field(o, "int8_sha256");
    e->quant_calibration_set = str_field(o, "quant_calibration_set");
    int mode = tq_quant_mode_parse(str_field(o, "quant_mode"));
    e->quant_mode = mode < 0 ? TQ_QUANT_FP32 : (tq_quant_mode)mode;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "quant_accuracy_budget_plcc");
    e->budget_plcc = cJSON_IsNumber(b) ? b->valuedouble : TQ_DEFAULT_BUDGET;
    e->smoke = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "smoke"));
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "opset");
    e->opset = cJSON_IsNumber(op) ? op->valueint : 0;
}

TQ_API int tq_registry_open(tq_registry **out, const char *path, tq_error *err)
{
    if (!out || !path)
        return tq_fail(err, TQ_EINVAL, "tq_registry_open: NULL argument");
    *out = NULL;
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = tq_read_file(path, &text, &len, err);
    if (rc)
        return rc;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)text, len, &end, 0);
    if (!root) {
        int line, col;
        size_t at = end ? (size_t)(end - (const char *)text) : 0;
        line_col((const char *)text, at, &line, &col);
        free(text);
        return tq_fail(err, TQ_EFORMAT, "%s:%d:%d: malformed JSON (byte %zu)", path, line, col,
                       at);
    }
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tq_fail(err, TQ_EFORMAT, "%s: not a registry (top level is not a JSON object)",
                       path);
    }
    tq_registry *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(root);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
    }
    r->root = root;
    r->path = strdup(path);
    r->dir = tq_path_dirname(path);
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    r->schema_version = -1;
    if (cJSON_IsNumber(sv) && (sv->valuedouble == 0 || sv->valuedouble == 1))
        r->schema_version = sv->valueint;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    int n = cJSON_IsArray(models) ? cJSON_GetArraySize(models) : 0;
    r->entries = calloc((size_t)n + 1, sizeof *r->entries);
    r->entry_json = calloc((size_t)n + 1, sizeof *r->entry_json);
    if (!r->path || !r->dir || !r->entries || !r->entry_json) {
        tq_registry_close(&r);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
    }
    int i = 0;
    for (cJSON *e = models ? models->child : NULL; e && i < n; e = e->next, i++) {
        r->entry_json[i] = e;
        if (cJSON_IsObject(e))
            fill_entry(&r->entries[i], e);
        else
            memset(&r->entries[i], 0, sizeof r->entries[i]);
    }
    r->n = i;
    *out = r;
    return TQ_OK;
}

TQ_API void tq_registry_close(tq_registry **reg)
{
    if (!reg || !*reg)
        return;
    tq_registry *r = *reg;
    cJSON_Delete(r->root);
    free(r->entries);
    free(r->entry_json);
    free(r->path);
    free(r->dir);
    free(r);
    *reg = NULL;
}

TQ_API int tq_registry_num_entries(const tq_registry *reg)
{
    return reg ? reg->n : 0;
}

TQ_API int tq_registry_entry_at(const tq_registry *reg, int i, tq_registry_entry *out)
{
    if (!reg || !out || i < 0 || i >= reg->n)
        return TQ_EINVAL;
    *out = reg->entries[i];
    return TQ_OK;
}

TQ_API int tq_registry_find(const tq_registry *reg, const char *id, tq_error *err)
{
    if (!reg || !id)
        return tq_fail(err, TQ_EINVAL, "tq_registry_find: NULL argument");
    for (int i = 0; i < reg->n; i++)
        if (reg->entries[i].id && strcmp(reg->entries[i].id, id) == 0)
            return i;
    return tq_fail(err, TQ_EINVAL, "%s: no entry with id '%s'", reg->path, id);
}

char *tq_registry_entry_file(const tq_registry *reg, const tq_registry_entry *e,
                             const char *suffix)
{
    if (!e->onnx)
        return NULL;
    size_t n = strlen(e->onnx);
    size_t stem = n >= 5 && strcmp(e->onnx + n - 5, ".onnx") == 0 ? n - 5 : n;
    char *rel = malloc(stem + strlen(suffix) + 1);
    if (!rel)
        return NULL;
    memcpy(rel, e->onnx, stem);
    strcpy(rel + stem, suffix);
    char *full = tq_path_join(reg->dir, rel);
    free(rel);
    return full;
}

/* Entry i's model file and the registry field holding its digest. */
static int loader_target(const tq_registry *reg, int i, char **path, const char **digest,
                         const char **field, tq_error *err)
{
    const tq_registry_entry *e = &reg->entries[i];
    if (!e->onnx)
        return tq_fail(err, TQ_EFORMAT, "%s: entry '%s': onnx: missing or not a string",
                       reg->path, e->id);
    const cJSON *qm = cJSON_GetObjectItemCaseSensitive(reg->entry_json[i], "quant_mode");
    if (qm && tq_quant_mode_parse(cJSON_IsString(qm) ? qm->valuestring : NULL) < 0)
        return tq_fail(err, TQ_EFORMAT,
                       "%s: entry '%s': quant_mode: must be one of fp32, dynamic, static, qat",
                       reg->path, e->id);
    int int8 = e->quant_mode != TQ_QUANT_FP32;
    *path = tq_registry_entry_file(reg, e, int8 ? ".int8.onnx" : ".onnx");
    *digest = int8 ? e->int8_sha256 : e->sha256;
    *field = int8 ? "int8_sha256" : "sha256";
    if (!*path)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    return TQ_OK;
}

TQ_API int tq_registry_resolve(const tq_registry *reg, const char *id, char *buf, size_t cap,
                               tq_error *err)
{
    int i = tq_registry_find(reg, id, err);
    if (i < 0)
        return i;
    char *path = NULL;
    const char *digest = NULL, *field = NULL;
    int rc = loader_target(reg, i, &path, &digest, &field, err);
    if (rc)
        return rc;
    if (!buf || strlen(path) + 1 > cap)
        rc = tq_fail(err, TQ_EINVAL, "tq_registry_resolve: buffer too small for '%s'", path);
    else
        strcpy(buf, path);
    free(path);
    return rc;
}

int tq_registry_load_entry(const tq_registry *reg, int i, tq_model **out, char **path,
                           tq_error *err)
{
    const char *digest = NULL, *field = NULL;
    int rc = loader_target(reg, i, path, &digest, &field, err);
    if (rc)
        return rc;
    rc = tq_trusted_model_load(*path, digest, field, reg->path, reg->entries[i].id, out, err);
    if (rc) {
        free(*path);
        *path = NULL;
    }
    return rc;
}
