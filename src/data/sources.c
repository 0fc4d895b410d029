/* One calibration source -> named sample stacks: picks the reader by file
 * extension, applies the key selection for npz/npy, and refuses data the
 * calibration could not use (ragged stacks, NaN/Inf, a missing label). */
#include "data/sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/values.h"
#include "util/error.h"

void tq_source_free(tq_source *s)
{
    if (!s)
        return;
    tq_tensor_set_free(&s->stacks);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n < k)
        return 0;
    for (size_t i = 0; i < k; i++) {
        char c = s[n - k + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suffix[i])
            return 0;
    }
    return 1;
}

/* "a, b, c" for messages (static buffer use is fine: one message per run). */
static void list_entries(const tq_tensor_set *set, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < set->n && used + 1 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s'%s'", i ? ", " : "", set->t[i].name);
}

/* Entries an npz holds that are not model inputs when no --key says otherwise:
 * the evaluation sets tinyq reads keep their answers under these names. */
static int is_answer_key(const char *name)
{
    return !strcmp(name, "label") || !strcmp(name, "target");
}

static int take_labels(const tq_tensor *t, const char *path, tq_source *out, tq_error *err)
{
    size_t n = 0;
    int rc = tq_tensor_as_doubles(t, path, &out->labels, &n, err);
    if (rc)
        return rc;
    if (t->rank < 1 || (int64_t)n != t->dims[0])
        return tq_fail(err, TQ_EFORMAT, "%s: label entry '%s' must hold one value per sample",
                       path, t->name);
    return TQ_OK;
}

/* Move the selected entries of an npz into out->stacks (no data copies). */
static int read_npz(const char *path, const tq_source_request *req, tq_source *out,
                    tq_error *err)
{
    tq_tensor_set set = {0};
    int rc = tq_npz_read(path, &set, err);
    if (rc)
        return rc;
    char names[512];
    list_entries(&set, names, sizeof names);
    const tq_tensor *label = NULL;
    if (req->label_key) {
        label = tq_tensor_set_find(&set, req->label_key);
        if (!label)
            rc = tq_fail(err, TQ_EFORMAT, "%s: no entry '%s' to stratify by (entries: %s)", path,
                         req->label_key, names);
        else
            rc = take_labels(label, path, out, err);
    }
    int *take = calloc((size_t)set.n + 1, sizeof *take);
    if (!rc && !take)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    int n_take = 0;
    for (int k = 0; !rc && k < req->n_keys; k++) {
        int found = 0;
        for (int i = 0; i < set.n; i++)
            if (!strcmp(set.t[i].name, req->keys[k]) && !take[i]) {
                take[i] = 1;
                found = 1;
                n_take++;
            }
        if (!found)
            rc = tq_fail(err, TQ_EFORMAT, "%s: no entry '%s' (entries: %s)", path, req->keys[k],
                         names);
    }
    if (!rc && !req->keys) {
        for (int i = 0; i < set.n; i++)
            if (&set.t[i] != label && !is_answer_key(set.t[i].name)) {
                take[i] = 1;
                n_take++;
            }
    }
    if (!rc && n_take == 0)
        rc = tq_fail(err, TQ_EFORMAT, "%s: no sample entries left to take (entries: %s)", path,
                     names);
    if (!rc && !(out->stacks.t = calloc((size_t)n_take, sizeof *out->stacks.t)))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < set.n; i++) {
        if (!take[i])
            continue;
        tq_tensor *t = &set.t[i];
        if (t->rank < 1)
            rc = tq_fail(err, TQ_EFORMAT, "%s: entry '%s' is a scalar, not a stack [N, ...]",
                         path, t->name);
        else if (out->stacks.n > 0 && t->dims[0] != out->rows)
            rc = tq_fail(err, TQ_EFORMAT,
                         "%s: entry '%s' has %lld samples but '%s' has %lld (ragged)", path,
                         t->name, (long long)t->dims[0], out->stacks.t[0].name,
                         (long long)out->rows);
        else {
            out->rows = t->dims[0];
            out->stacks.t[out->stacks.n++] = *t;
            memset(t, 0, sizeof *t); /* moved */
        }
    }
    if (!rc && out->labels && (int64_t)label->dims[0] != out->rows)
        rc = tq_fail(err, TQ_EFORMAT, "%s: label entry '%s' has %lld values for %lld samples",
                     path, req->label_key, (long long)label->dims[0], (long long)out->rows);
    if (!rc && req->input_name && out->stacks.n == 1) {
        char *name = strdup(req->input_name);
        if (!name)
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        else {
            free(out->stacks.t[0].name);
            out->stacks.t[0].name = name;
        }
    }
    free(take);
    tq_tensor_set_free(&set);
    return rc;
}

static int read_npy(const char *path, const tq_source_request *req, tq_source *out,
                    tq_error *err)
{
    if (req->label_key)
        return tq_fail(err, TQ_EFORMAT, "%s: a .npy holds one array and no '%s' to stratify by",
                       path, req->label_key);
    if (req->keys)
        return tq_fail(err, TQ_EINVAL, "%s: a .npy holds one array; --key does not apply", path);
    if (!(out->stacks.t = calloc(1, sizeof *out->stacks.t)))
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    tq_tensor *t = &out->stacks.t[0];
    int rc = tq_npy_read(path, t, err);
    if (rc)
        return rc;
    out->stacks.n = 1;
    if (t->rank < 1)
        return tq_fail(err, TQ_EFORMAT, "%s: a scalar, not a stack [N, ...]", path);
    out->rows = t->dims[0];
    char *name = strdup(req->input_name ? req->input_name : "input");
    if (!name)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    free(t->name);
    t->name = name;
    return TQ_OK;
}

int tq_source_read(const char *path, const tq_source_request *req, tq_source *out,
                   tq_error *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (ends_with(path, ".npz"))
        rc = read_npz(path, req, out, err);
    else if (ends_with(path, ".npy"))
        rc = read_npy(path, req, out, err);
    else if (ends_with(path, ".csv"))
        rc = tq_source_read_csv(path, req, out, err);
    else if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
        rc = tq_source_read_jsonl(path, req, out, err);
    else
        rc = tq_fail(err, TQ_EINVAL, "%s: unknown source type (expected .npy, .npz, .csv, .jsonl)",
                     path);
    for (int i = 0; !rc && i < out->stacks.n; i++) {
        const tq_tensor *t = &out->stacks.t[i];
        int64_t bad = tq_tensor_first_nonfinite(t);
        if (bad >= 0) {
            int64_t per = out->rows ? tq_tensor_numel(t) / out->rows : 1;
            rc = tq_fail(err, TQ_EFORMAT, "%s: entry '%s': NaN or Inf in sample %lld", path,
                         t->name, (long long)(per ? bad / per : 0));
        }
    }
    for (int64_t r = 0; !rc && out->labels && r < out->rows; r++)
        if (!(out->labels[r] == out->labels[r]) || out->labels[r] - out->labels[r] != 0)
            rc = tq_fail(err, TQ_EFORMAT, "%s: label '%s' is NaN or Inf in sample %lld", path,
                         req->label_key, (long long)r);
    if (rc)
        tq_source_free(out);
    return rc;
}

int tq_row_table_push(tq_row_table *t, float x)
{
    if (t->n == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 1024;
        float *p = realloc(t->v, c * sizeof *p);
        if (!p)
            return -1;
        t->v = p;
        t->cap = c;
    }
    t->v[t->n++] = x;
    return 0;
}

int tq_row_table_push_label(tq_row_table *t, double label)
{
    if (t->rows == t->labels_cap) {
        size_t c = t->labels_cap ? t->labels_cap * 2 : 256;
        double *p = realloc(t->labels, c * sizeof *p);
        if (!p)
            return -1;
        t->labels = p;
        t->labels_cap = c;
    }
    t->labels[t->rows] = label;
    return 0;
}

int tq_row_table_finish(tq_row_table *t, const char *name, const int64_t *shape, int rank,
                        int has_labels, tq_source *out, tq_error *err)
{
    if (rank + 1 > TQ_MAX_RANK)
        return tq_fail(err, TQ_EUNSUPPORTED, "sample rank %d exceeds %d", rank, TQ_MAX_RANK - 1);
    if (!(out->stacks.t = calloc(1, sizeof *out->stacks.t)) || !(out->stacks.t[0].name = strdup(name)))
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    out->stacks.n = 1;
    tq_tensor *s = &out->stacks.t[0];
    s->dtype = TQ_FLOAT;
    s->rank = rank + 1;
    s->dims[0] = (int64_t)t->rows;
    for (int i = 0; i < rank; i++)
        s->dims[i + 1] = shape[i];
    s->nbytes = t->n * sizeof(float);
    s->data = t->v;
    t->v = NULL;
    t->n = t->cap = 0;
    out->rows = (int64_t)t->rows;
    if (has_labels) {
        out->labels = t->labels;
        t->labels = NULL;
    }
    return TQ_OK;
}

void tq_row_table_free(tq_row_table *t)
{
    free(t->v);
    free(t->labels);
    memset(t, 0, sizeof *t);
}
