/* `registry validate`: the registry schema (registry.schema.json of the
 * system we replace) plus every file an entry points at. Each problem is
 * reported as "<registry>: entry '<id>': <field>: <problem>" and validation
 * carries on, so one run lists everything that is wrong.
 *
 * Decisions (documented in tinyq registry validate --help):
 * - the sidecar <basename>.json is required: the schema makes it part of the
 *   trust root and it carries the scaler, whose absence would silently change
 *   scores; every seed entry has one.
 * - sigstore_bundle files are optional (not shipped); only the path is checked.
 * - unknown fields are tolerated (kept by rewrites) and not reported. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/sha256.h"
#include "registry/registry_internal.h"
#include "runtime/op.h"
#include "util/error.h"
#include "util/fileio.h"

typedef struct vctx {
    const tq_registry *reg;
    tq_registry_report_fn report;
    void *user;
    int problems;
    const char *id; /* current entry's id for messages */
    int index;
} vctx;

static void problem(vctx *v, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(vctx *v, const char *field, const char *fmt, ...)
{
    char what[700], line[TQ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (v->index < 0)
        snprintf(line, sizeof line, "%s: %s: %s", v->reg->path, field, what);
    else if (v->id)
        snprintf(line, sizeof line, "%s: entry '%s': %s: %s", v->reg->path, v->id, field, what);
    else
        snprintf(line, sizeof line, "%s: entry #%d: %s: %s", v->reg->path, v->index, field,
                 what);
    v->problems++;
    if (v->report)
        v->report(v->user, line);
}

static int matches_charset(const char *s, const char *first, const char *rest)
{
    if (!s[0] || !strchr(first, s[0]))
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!strchr(rest, *p))
            return 0;
    return 1;
}

#define LOWER_DIGIT "abcdefghijklmnopqrstuvwxyz0123456789"

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A path from the registry must stay inside the registry's folder. */
static int has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return 1;
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Optional string field: type and maximum length. Returns the string or NULL. */
static const char *check_string(vctx *v, const cJSON *o, const char *key, size_t max_len,
                                int required)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!f) {
        if (required)
            problem(v, key, "missing (required)");
        return NULL;
    }
    if (!cJSON_IsString(f)) {
        problem(v, key, "must be a string");
        return NULL;
    }
    if (max_len && strlen(f->valuestring) > max_len)
        problem(v, key, "longer than %zu characters", max_len);
    return f->valuestring;
}

static void check_digest(vctx *v, const char *field, const char *expect, const char *path)
{
    if (!expect || !is_hex64(expect) || !file_exists(path))
        return;
    char hex[TQ_SHA256_HEX_LEN + 1];
    tq_error e = {0};
    if (tq_sha256_file(path, hex, &e)) {
        problem(v, field, "cannot hash %s: %s", path, e.msg);
        return;
    }
    if (strcmp(hex, expect) != 0)
        problem(v, field, "mismatch for %s (registry %s, file %s)", path, expect, hex);
}

/* Ops outside tinyq's op set, input ranks, and the scaler placement. */
static void check_model(vctx *v, const char *field, const char *path, const tq_sidecar *sc)
{
    tq_model *m = NULL;
    tq_error e = {0};
    if (tq_model_load(&m, path, &e)) {
        problem(v, field, "%s", e.msg);
        return;
    }
    const tq_graph *g = &m->graph;
    for (int i = 0; i < g->n_nodes; i++) {
        const tq_node *n = &g->nodes[i];
        if (!tq_op_find(n->domain, n->op_type)) {
            /* Report each missing op type once per file. */
            int seen = 0;
            for (int k = 0; k < i && !seen; k++)
                seen = strcmp(g->nodes[k].op_type, n->op_type) == 0 &&
                       strcmp(g->nodes[k].domain, n->domain) == 0;
            if (!seen)
                problem(v, field, "%s: node '%s' uses op %s%s%s, outside tinyq's op set", path,
                        n->name && n->name[0] ? n->name : "(unnamed)", n->domain,
                        n->domain[0] ? "." : "", n->op_type);
        }
    }
    int runtime_inputs = 0;
    const char *first = NULL;
    for (int i = 0; i < g->n_inputs; i++) {
        const tq_value_info *in = &g->inputs[i];
        if (tq_graph_find_initializer(g, in->name))
            continue;
        if (!first)
            first = in->name;
        runtime_inputs++;
        int ok = runtime_inputs == 1 ? (in->rank == 2 || in->rank == 4) : in->rank == 2;
        if (!ok)
            problem(v, field, "%s: input '%s' has rank %d; tinyq scores rank-2 feature vectors "
                    "[batch, F] (plus an optional rank-2 codec block) or rank-4 NCHW images",
                    path, in->name, in->rank);
    }
    if (first) {
        tq_scaler_site site;
        if (tq_scaler_decide(m, first, sc, path, &site, &e))
            problem(v, "sidecar", "%s", e.msg);
    }
    tq_model_free(&m);
}

static void check_entry(vctx *v, int idx, const cJSON *o, const char **ids)
{
    v->index = idx;
    v->id = NULL;
    if (!cJSON_IsObject(o)) {
        problem(v, "models", "entry is not a JSON object");
        return;
    }
    const char *id = check_string(v, o, "id", 64, 1);
    if (id) {
        v->id = id;
        if (!matches_charset(id, LOWER_DIGIT, LOWER_DIGIT "_-"))
            problem(v, "id", "must match ^[a-z0-9][a-z0-9_-]*$");
        for (int k = 0; k < idx; k++)
            if (ids[k] && strcmp(ids[k], id) == 0)
                problem(v, "id", "duplicate id (also entry #%d)", k);
    }
    ids[idx] = id;

    const char *kind = check_string(v, o, "kind", 0, 1);
    if (kind && strcmp(kind, "fr") && strcmp(kind, "nr") && strcmp(kind, "filter"))
        problem(v, "kind", "'%s' is not one of fr, nr, filter", kind);

    const char *onnx = check_string(v, o, "onnx", 256, 1);
    int onnx_ok = 0;
    if (onnx) {
        if (!matches_charset(onnx, LOWER_DIGIT, LOWER_DIGIT "_./-") || !ends_with(onnx, ".onnx"))
            problem(v, "onnx", "'%s' must match ^[a-z0-9][a-z0-9_./-]*\\.onnx$", onnx);
        else if (has_dotdot(onnx))
            problem(v, "onnx", "'%s' leaves the registry's folder", onnx);
        else if (ends_with(onnx, ".int8.onnx"))
            problem(v, "onnx", "'%s' names an int8 file; the registry lists the fp32 model", onnx);
        else
            onnx_ok = 1;
    }
    const char *sha = check_string(v, o, "sha256", 0, 1);
    if (sha && !is_hex64(sha))
        problem(v, "sha256", "must be 64 lower-case hex digits");

    const cJSON *opset = cJSON_GetObjectItemCaseSensitive(o, "opset");
    if (opset && (!cJSON_IsNumber(opset) || opset->valuedouble != (double)opset->valueint ||
                  opset->valueint < 7 || opset->valueint > 21))
        problem(v, "opset", "must be an integer in [7, 21]");
    check_string(v, o, "notes", 512, 0);
    check_string(v, o, "description", 256, 0);
    check_string(v, o, "license", 128, 0);
    check_string(v, o, "license_url", 512, 0);
    const cJSON *smoke = cJSON_GetObjectItemCaseSensitive(o, "smoke");
    if (smoke && !cJSON_IsBool(smoke))
        problem(v, "smoke", "must be true or false");

    int mode = TQ_QUANT_FP32;
    const cJSON *qm = cJSON_GetObjectItemCaseSensitive(o, "quant_mode");
    if (qm) {
        mode = tq_quant_mode_parse(cJSON_IsString(qm) ? qm->valuestring : NULL);
        if (mode < 0)
            problem(v, "quant_mode", "%s%s%s is not one of fp32, dynamic, static, qat",
                    cJSON_IsString(qm) ? "'" : "", cJSON_IsString(qm) ? qm->valuestring : "value",
                    cJSON_IsString(qm) ? "'" : "");
    }
    const cJSON *budget = cJSON_GetObjectItemCaseSensitive(o, "quant_accuracy_budget_plcc");
    if (budget && !cJSON_IsNumber(budget))
        problem(v, "quant_accuracy_budget_plcc", "must be a number in [0, 1]");
    else if (budget && !(budget->valuedouble >= 0 && budget->valuedouble <= 1))
        problem(v, "quant_accuracy_budget_plcc", "%g is outside [0, 1]", budget->valuedouble);

    const char *calib = check_string(v, o, "quant_calibration_set", 256, 0);
    if (mode == TQ_QUANT_STATIC && !cJSON_GetObjectItemCaseSensitive(o, "quant_calibration_set"))
        problem(v, "quant_calibration_set", "missing (required when quant_mode is static)");
    if (calib) {
        char *p = calib[0] == '/' ? strdup(calib) : tq_path_join(v->reg->dir, calib);
        if (p && !file_exists(p))
            problem(v, "quant_calibration_set", "file %s not found", p);
        free(p);
    }
    const char *int8_sha = check_string(v, o, "int8_sha256", 0, 0);
    if (int8_sha && !is_hex64(int8_sha))
        problem(v, "int8_sha256", "must be 64 lower-case hex digits");
    if (mode > TQ_QUANT_FP32 && !int8_sha && !cJSON_GetObjectItemCaseSensitive(o, "int8_sha256"))
        problem(v, "int8_sha256", "missing (required when quant_mode is not fp32)");

    const char *sig = check_string(v, o, "sigstore_bundle", 256, 0);
    if (sig && !(matches_charset(sig, LOWER_DIGIT, LOWER_DIGIT "_./-") &&
                 ends_with(sig, ".sigstore.json")))
        problem(v, "sigstore_bundle", "'%s' must match ^[a-z0-9][a-z0-9_./-]*\\.sigstore\\.json$",
                sig);

    if (!onnx_ok)
        return;
    const tq_registry_entry *e = &v->reg->entries[idx];
    char *fp32 = tq_registry_entry_file(v->reg, e, ".onnx");
    char *int8 = tq_registry_entry_file(v->reg, e, ".int8.onnx");
    char *side = tq_registry_entry_file(v->reg, e, ".json");
    if (!fp32 || !int8 || !side) {
        problem(v, "onnx", "out of memory");
        goto done;
    }
    tq_sidecar sc = {0};
    int have_sc = 0;
    if (!file_exists(side)) {
        problem(v, "sidecar", "%s not found (every model needs its <basename>.json)", side);
    } else {
        tq_error e2 = {0};
        if (tq_sidecar_load(side, &sc, &e2))
            problem(v, "sidecar", "%s", e2.msg);
        else
            have_sc = 1;
    }
    if (!file_exists(fp32)) {
        problem(v, "onnx", "model file %s not found", fp32);
    } else {
        check_digest(v, "sha256", sha, fp32);
        check_model(v, "onnx", fp32, have_sc ? &sc : NULL);
    }
    if (mode > TQ_QUANT_FP32) {
        if (!file_exists(int8)) {
            problem(v, "quant_mode", "%s needs %s, which is not found", tq_quant_mode_name(mode),
                    int8);
        } else {
            check_digest(v, "int8_sha256", int8_sha, int8);
            check_model(v, "int8_sha256", int8, have_sc ? &sc : NULL);
        }
    }
    tq_sidecar_free(&sc);
done:
    free(fp32);
    free(int8);
    free(side);
}

TQ_API int tq_registry_validate(const tq_registry *reg, tq_registry_report_fn report,
                                void *user, tq_error *err)
{
    if (!reg)
        return tq_fail(err, TQ_EINVAL, "tq_registry_validate: registry is NULL");
    vctx v = {.reg = reg, .report = report, .user = user, .index = -1};
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(reg->root, "schema_version");
    if (!sv)
        problem(&v, "schema_version", "missing (required)");
    else if (reg->schema_version < 0 || sv->valuedouble != (double)sv->valueint)
        problem(&v, "schema_version", "must be 0 or 1");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(reg->root, "models");
    if (!models)
        problem(&v, "models", "missing (required)");
    else if (!cJSON_IsArray(models))
        problem(&v, "models", "must be an array of entries");
    const char **ids = calloc((size_t)reg->n + 1, sizeof *ids);
    if (!ids)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    for (int i = 0; i < reg->n; i++)
        check_entry(&v, i, reg->entry_json[i], ids);
    free(ids);
    return v.problems;
}
