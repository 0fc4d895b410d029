/* Rewriting registry.json after `quantize --registry REG --id ID`: update one
 * entry's quant fields and write the file back atomically, keeping every other
 * field (unknown ones included) with its value and position.
 *
 * The layout follows the seed registry (Python json.dump(indent=2,
 * sort_keys=True) output): cJSON prints every leaf value and key; this file
 * only lays out objects and arrays one member per line with 2-space indents
 * and turns non-ASCII characters into \uXXXX escapes (ensure_ascii). A
 * registry read and written back unchanged is byte-identical. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/sha256.h"
#include "registry/registry_internal.h"
#include "util/error.h"
#include "util/fileio.h"

typedef struct outbuf {
    char *p;
    size_t len, cap;
} outbuf;

static int put(outbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* Decode one UTF-8 sequence at s (cJSON only prints what it parsed, which
 * was valid UTF-8 or passed through as bytes). Returns its length, 0 if invalid. */
static int utf8_decode(const unsigned char *s, unsigned *cp)
{
    if (s[0] >= 0xC0 && s[0] < 0xE0 && (s[1] & 0xC0) == 0x80) {
        *cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
        return 2;
    }
    if (s[0] >= 0xE0 && s[0] < 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
        *cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] < 0xF8 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
        (s[3] & 0xC0) == 0x80) {
        *cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) |
              (s[3] & 0x3Fu);
        return 4;
    }
    return 0;
}

static int relayout(const char *in, outbuf *b)
{
    int in_str = 0;
    char prev = 0;
    for (const unsigned char *s = (const unsigned char *)in; *s;) {
        char esc[16];
        if (in_str) {
            if (*s == '\\') {
                if (put(b, (const char *)s, 2))
                    return -1;
                prev = (char)s[1];
                s += 2;
                continue;
            }
            if (*s == '"')
                in_str = 0;
            if (*s >= 0x80) {
                unsigned cp = 0;
                int n = utf8_decode(s, &cp);
                if (n == 0) { /* not UTF-8: copy the byte unchanged */
                    n = 1;
                    if (put(b, (const char *)s, 1))
                        return -1;
                } else if (cp >= 0x10000) {
                    cp -= 0x10000;
                    snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
                             0xDC00 + (cp & 0x3FF));
                    if (put(b, esc, strlen(esc)))
                        return -1;
                } else {
                    snprintf(esc, sizeof esc, "\\u%04x", cp);
                    if (put(b, esc, strlen(esc)))
                        return -1;
                }
                s += n;
                prev = 'u';
                continue;
            }
        } else if (*s == '"') {
            in_str = 1;
        } else if (*s == '\t') {
            /* Outside strings a tab is layout (strings escape theirs as \t). */
            if (put(b, prev == ':' ? " " : "  ", prev == ':' ? 1 : 2))
                return -1;
            prev = prev == ':' ? ' ' : '\t';
            s++;
            continue;
        }
        if (put(b, (const char *)s, 1))
            return -1;
        prev = (char)*s;
        s++;
    }
    return 0;
}

/* Set key to item in obj: replace in place, or insert where sorted order puts
 * it when the entry's keys are sorted (as in the seed file), else append. */
static int set_field(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item) ? 0 : -1;
    int sorted = 1, pos = 0, i = 0;
    const cJSON *prev = NULL;
    for (const cJSON *c = obj->child; c; c = c->next, i++) {
        if (prev && strcmp(prev->string, c->string) > 0)
            sorted = 0;
        if (strcmp(c->string, key) < 0)
            pos = i + 1;
        prev = c;
    }
    if (!cJSON_AddItemToObject(obj, key, item))
        return -1;
    if (!sorted)
        return 0;
    /* Rotate the members after `pos` behind the new one (cJSON 1.7.15's
     * cJSON_InsertItemInArray refuses object members). */
    for (int k = pos; k < i; k++) {
        cJSON *m = cJSON_DetachItemFromArray(obj, pos);
        if (!m || !cJSON_AddItemToArray(obj, m))
            return -1;
    }
    return 0;
}

/* A leaf (string, number, bool, null) or a key, printed by cJSON, then made
 * ASCII-only the way Python's ensure_ascii does. */
static int put_leaf(outbuf *b, const cJSON *leaf)
{
    char *raw = cJSON_PrintUnformatted(leaf);
    if (!raw)
        return -1;
    int rc = relayout(raw, b);
    free(raw);
    return rc;
}

static int put_indent(outbuf *b, int depth)
{
    for (int i = 0; i < depth; i++)
        if (put(b, "  ", 2))
            return -1;
    return 0;
}

/* Python json.dump(indent=2) layout: one member per line, "key": value,
 * empty containers as {} / []. */
static int put_value(outbuf *b, const cJSON *v, int depth)
{
    int is_obj = cJSON_IsObject(v);
    if (!is_obj && !cJSON_IsArray(v))
        return put_leaf(b, v);
    if (!v->child)
        return put(b, is_obj ? "{}" : "[]", 2);
    if (put(b, is_obj ? "{\n" : "[\n", 2))
        return -1;
    for (const cJSON *c = v->child; c; c = c->next) {
        if (put_indent(b, depth + 1))
            return -1;
        if (is_obj) {
            cJSON *key = cJSON_CreateString(c->string);
            int rc = key ? put_leaf(b, key) : -1;
            cJSON_Delete(key);
            if (rc || put(b, ": ", 2))
                return -1;
        }
        if (put_value(b, c, depth + 1) || put(b, c->next ? ",\n" : "\n", c->next ? 2 : 1))
            return -1;
    }
    if (put_indent(b, depth))
        return -1;
    return put(b, is_obj ? "}" : "]", 1);
}

/* Print the document in the seed layout into a malloc'ed buffer. */
static int print_registry(const cJSON *root, int trailing_newline, char **out, size_t *len)
{
    outbuf b = {0};
    int rc = put_value(&b, root, 0);
    if (!rc && trailing_newline)
        rc = put(&b, "\n", 1);
    if (rc) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* Exposed for the round-trip test: re-print a registry file unchanged. */
int tq_registry_reprint(const char *path, char **out, size_t *len, tq_error *err);
int tq_registry_reprint(const char *path, char **out, size_t *len, tq_error *err)
{
    tq_registry *r = NULL;
    int rc = tq_registry_open(&r, path, err);
    if (rc)
        return rc;
    if (print_registry(r->root, 1, out, len))
        rc = tq_fail(err, TQ_ENOMEM, "%s: out of memory printing the registry", path);
    tq_registry_close(&r);
    return rc;
}

TQ_API int tq_registry_record_quant(const char *path, const char *id, tq_quant_mode mode,
                                    const char *int8_sha256, const char *calibration_set,
                                    tq_error *err)
{
    if (!path || !id || (mode != TQ_QUANT_FP32 && !int8_sha256) || (unsigned)mode > 3)
        return tq_fail(err, TQ_EINVAL, "tq_registry_record_quant: bad arguments");
    uint8_t *text = NULL;
    size_t n = 0;
    int rc = tq_read_file(path, &text, &n, err);
    if (rc)
        return rc;
    int trailing_newline = n > 0 && text[n - 1] == '\n';
    free(text);
    tq_registry *r = NULL;
    rc = tq_registry_open(&r, path, err);
    if (rc)
        return rc;
    int i = tq_registry_find(r, id, err);
    if (i < 0) {
        tq_registry_close(&r);
        return i;
    }
    cJSON *e = r->entry_json[i];
    int bad = set_field(e, "quant_mode", cJSON_CreateString(tq_quant_mode_name(mode)));
    if (!bad && int8_sha256)
        bad = set_field(e, "int8_sha256", cJSON_CreateString(int8_sha256));
    if (!bad && calibration_set)
        bad = set_field(e, "quant_calibration_set", cJSON_CreateString(calibration_set));
    char *out = NULL;
    size_t len = 0;
    if (bad || print_registry(r->root, trailing_newline, &out, &len))
        rc = tq_fail(err, TQ_ENOMEM, "%s: out of memory updating entry '%s'", path, id);
    else
        rc = tq_write_file_atomic(path, out, len, err);
    free(out);
    tq_registry_close(&r);
    return rc;
}

/* ---- new entries (the trainer) and other JSON files in the same layout */

int tq_json_format(const cJSON *root, char **out, size_t *len)
{
    return print_registry(root, 1, out, len);
}

/* `onnx_path` relative to the registry's folder; fails unless the model sits
 * inside that folder (the registry's paths are relative to it, SPEC §3). */
static int relative_to_registry(const char *reg_path, const char *onnx_path, char **out,
                                tq_error *err)
{
    char *dir = tq_path_dirname(reg_path);
    char *rdir = dir ? realpath(dir, NULL) : NULL;
    char *rfile = realpath(onnx_path, NULL);
    int rc = TQ_OK;
    size_t n = rdir ? strlen(rdir) : 0;
    if (!dir)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    else if (!rdir)
        rc = tq_fail(err, TQ_EIO, "%s: its folder cannot be resolved", reg_path);
    else if (!rfile)
        rc = tq_fail(err, TQ_EIO, "%s: cannot be resolved", onnx_path);
    else if (strncmp(rfile, rdir, n) != 0 || (rfile[n] != '/' && strcmp(rdir, "/") != 0))
        rc = tq_fail(err, TQ_EINVAL, "%s: the model is outside the registry's folder %s "
                     "(registry paths are relative to it)", onnx_path, rdir);
    else if (!(*out = strdup(rfile + n + (rfile[n] == '/'))))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    free(dir);
    free(rdir);
    free(rfile);
    return rc;
}

TQ_API int tq_registry_register_model(const char *path, const char *id, const char *kind,
                                      const char *onnx_path, int smoke, const char *notes,
                                      tq_error *err)
{
    if (!path || !id || !id[0] || !kind || !onnx_path)
        return tq_fail(err, TQ_EINVAL, "tq_registry_register_model: bad arguments");
    char sha[TQ_SHA256_HEX_LEN + 1];
    char *rel = NULL;
    int rc = relative_to_registry(path, onnx_path, &rel, err);
    if (!rc)
        rc = tq_sha256_file(onnx_path, sha, err);
    if (rc) {
        free(rel);
        return rc;
    }
    /* A missing registry is created; an existing one keeps every byte of the
     * other entries. */
    uint8_t *text = NULL;
    size_t n = 0;
    cJSON *root = NULL;
    int trailing_newline = 1;
    tq_registry *r = NULL;
    if (access(path, F_OK) == 0) {
        rc = tq_read_file(path, &text, &n, err);
        trailing_newline = n > 0 && text[n - 1] == '\n';
        free(text);
        if (!rc)
            rc = tq_registry_open(&r, path, err);
        if (!rc)
            root = r->root;
    } else {
        root = cJSON_CreateObject();
        if (!root || !cJSON_AddItemToObject(root, "models", cJSON_CreateArray()) ||
            !cJSON_AddNumberToObject(root, "schema_version", 1))
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    cJSON *models = rc ? NULL : cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!rc && !cJSON_IsArray(models))
        rc = tq_fail(err, TQ_EFORMAT, "%s: 'models' is not an array", path);
    cJSON *e = NULL;
    for (cJSON *c = models ? models->child : NULL; !rc && c; c = c->next) {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(c, "id");
        if (cJSON_IsString(cid) && !strcmp(cid->valuestring, id))
            e = c;
    }
    int bad = 0;
    if (!rc && !e) {
        e = cJSON_CreateObject();
        bad = !e || !cJSON_AddItemToArray(models, e);
        if (!bad)
            bad = set_field(e, "id", cJSON_CreateString(id));
    } else if (!rc) {
        /* New weights: an int8 sibling made from the old ones no longer
         * matches, so the entry goes back to fp32. */
        cJSON_DeleteItemFromObjectCaseSensitive(e, "quant_mode");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "int8_sha256");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "quant_calibration_set");
    }
    if (!rc && !bad)
        bad = set_field(e, "kind", cJSON_CreateString(kind)) ||
              set_field(e, "onnx", cJSON_CreateString(rel)) ||
              set_field(e, "opset", cJSON_CreateNumber(17)) ||
              set_field(e, "sha256", cJSON_CreateString(sha)) ||
              set_field(e, "smoke", cJSON_CreateBool(smoke != 0)) ||
              (notes && set_field(e, "notes", cJSON_CreateString(notes)));
    char *out = NULL;
    size_t len = 0;
    if (!rc && (bad || print_registry(root, trailing_newline, &out, &len)))
        rc = tq_fail(err, TQ_ENOMEM, "%s: out of memory adding entry '%s'", path, id);
    if (!rc)
        rc = tq_write_file_atomic(path, out, len, err);
    free(out);
    free(rel);
    if (r)
        tq_registry_close(&r);
    else
        cJSON_Delete(root);
    return rc;
}
