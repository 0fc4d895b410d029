/* JSONL calibration source: one JSON object per line (cJSON parses it).
 * Selected fields hold a number or a (nested) array of numbers; each row's
 * selected fields are flattened in key order, and every row must give the
 * same shape as the first (anything else is ragged). Without --key the
 * fields are the first row's numeric ones, so corpora that carry names
 * (source, encoder) next to their features work unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "data/sources.h"
#include "util/error.h"
#include "util/fileio.h"

#define MAX_FIELDS 1024

typedef struct field_shape {
    int rank;
    int64_t dims[TQ_MAX_RANK];
} field_shape;

static int is_numeric(const cJSON *v)
{
    return cJSON_IsNumber(v) || cJSON_IsArray(v);
}

/* The shape of a (nested) array along its first elements: the shape every
 * row must then match exactly. */
static const char *measure(const cJSON *v, field_shape *s)
{
    s->rank = 0;
    while (cJSON_IsArray(v)) {
        if (s->rank >= TQ_MAX_RANK - 1)
            return "nested too deep";
        s->dims[s->rank] = cJSON_GetArraySize(v);
        if (s->dims[s->rank++] == 0)
            return "empty array";
        v = v->child;
    }
    return NULL;
}

/* Push the numbers of v depth-first, checking it has shape s. */
static const char *flatten(const cJSON *v, tq_row_table *t, const field_shape *s, int depth)
{
    if (depth == s->rank) {
        if (!cJSON_IsNumber(v))
            return cJSON_IsArray(v) ? "ragged (nesting differs from the first row)"
                                    : "not a number";
        if (!isfinite(v->valuedouble) || !isfinite((float)v->valuedouble))
            return "NaN or Inf";
        return tq_row_table_push(t, (float)v->valuedouble) ? "out of memory" : NULL;
    }
    if (!cJSON_IsArray(v))
        return cJSON_IsNumber(v) ? "ragged (nesting differs from the first row)"
                                 : "not a number";
    if (cJSON_GetArraySize(v) != s->dims[depth])
        return "ragged (array length differs from the first row)";
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        const char *why = flatten(e, t, s, depth + 1);
        if (why)
            return why;
    }
    return NULL;
}

int tq_source_read_jsonl(const char *path, const tq_source_request *req, tq_source *out,
                         tq_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = tq_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    char *keys[MAX_FIELDS];
    field_shape shapes[MAX_FIELDS];
    memset(shapes, 0, sizeof shapes);
    int n_keys = 0, line_no = 0;
    for (int k = 0; k < req->n_keys && k < MAX_FIELDS; k++)
        keys[n_keys++] = (char *)req->keys[k];
    int own_keys = !req->keys;
    size_t width = 0;
    tq_row_table table = {0};
    char *next = (char *)buf;
    while (!rc && next && *next) {
        char *line = next;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        if (strspn(line, " \t\r") == strlen(line))
            continue;
        cJSON *row = cJSON_Parse(line);
        if (!row || !cJSON_IsObject(row)) {
            int nan = strstr(line, "NaN") || strstr(line, "Infinity");
            rc = tq_fail(err, TQ_EFORMAT, "%s: line %d: not a JSON object%s", path, line_no,
                         nan ? " (NaN or Inf: not valid JSON numbers)" : "");
            cJSON_Delete(row);
            break;
        }
        int first = table.rows == 0;
        if (first && own_keys) {
            const cJSON *f;
            cJSON_ArrayForEach(f, row)
            {
                if (!f->string || !is_numeric(f) ||
                    (req->label_key && !strcmp(f->string, req->label_key)))
                    continue;
                if (n_keys == MAX_FIELDS || !(keys[n_keys] = strdup(f->string))) {
                    rc = tq_fail(err, TQ_ENOMEM, "%s: too many fields", path);
                    break;
                }
                n_keys++;
            }
            if (!rc && n_keys == 0)
                rc = tq_fail(err, TQ_EFORMAT, "%s: line %d: no numeric fields besides the label",
                             path, line_no);
        }
        size_t before = table.n;
        for (int k = 0; !rc && k < n_keys; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, keys[k]);
            const char *why = v ? NULL : "missing";
            if (!why && first)
                why = measure(v, &shapes[k]);
            if (!why)
                why = flatten(v, &table, &shapes[k], 0);
            if (why)
                rc = tq_fail(err, TQ_EFORMAT, "%s: line %d: field '%s': %s", path, line_no,
                             keys[k], why);
        }
        if (!rc && req->label_key) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, req->label_key);
            if (!v)
                rc = tq_fail(err, TQ_EFORMAT, "%s: line %d: no field '%s' to stratify by", path,
                             line_no, req->label_key);
            else if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                rc = tq_fail(err, TQ_EFORMAT, "%s: line %d: label '%s' is not a finite number",
                             path, line_no, req->label_key);
            else if (tq_row_table_push_label(&table, v->valuedouble))
                rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        }
        if (!rc && first)
            width = table.n - before;
        else if (!rc && table.n - before != width)
            rc = tq_fail(err, TQ_EFORMAT, "%s: line %d: %zu values, the first row has %zu (ragged)",
                         path, line_no, table.n - before, width);
        if (!rc)
            table.rows++;
        cJSON_Delete(row);
    }
    if (!rc && table.rows == 0)
        rc = tq_fail(err, TQ_EFORMAT, "%s: no rows", path);
    if (!rc) {
        /* one array field keeps its shape; anything else is a flat row */
        int single = n_keys == 1 && shapes[0].rank > 0;
        int64_t flat = (int64_t)width;
        rc = tq_row_table_finish(&table, req->input_name ? req->input_name : "input",
                                 single ? shapes[0].dims : &flat, single ? shapes[0].rank : 1,
                                 req->label_key != NULL, out, err);
    }
    tq_row_table_free(&table);
    if (own_keys)
        for (int k = 0; k < n_keys; k++)
            free(keys[k]);
    free(buf);
    return rc;
}
