/* Calibration-set building: read the sources, check they agree, pick rows
 * with numpy's PCG64 exactly as calib_build.h spells out, copy them out. */
#include "data/calib_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/sources.h"
#include "util/error.h"
#include "util/pcg64.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* qsort has no context argument: the labels being ordered live here for the
 * duration of one sort (the tool is single-threaded where it builds sets). */
static const double *sort_labels;

static int cmp_by_label(const void *a, const void *b)
{
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    double x = sort_labels[i], y = sort_labels[j];
    if (x != y)
        return x < y ? -1 : 1;
    return (i > j) - (i < j); /* members keep their source order */
}

int tq_calib_select(const double *labels, int64_t total, int64_t n, uint64_t seed, int64_t *idx,
                    int *n_classes, tq_error *err)
{
    if (n < 0 || n > total)
        return tq_fail(err, TQ_EINVAL, "cannot pick %lld of %lld samples", (long long)n,
                       (long long)total);
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, seed);
    int64_t *perm = malloc(((size_t)total + 1) * sizeof *perm);
    int64_t *order = labels ? malloc(((size_t)total + 1) * sizeof *order) : NULL;
    /* per class: first position in `order`, size, quota, remainder */
    int64_t *cls = labels ? malloc(((size_t)total + 1) * 4 * sizeof *cls) : NULL;
    int64_t *by_rem = labels ? malloc(((size_t)total + 1) * sizeof *by_rem) : NULL;
    if (!perm || (labels && (!order || !cls || !by_rem))) {
        free(perm);
        free(order);
        free(cls);
        free(by_rem);
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    if (n_classes)
        *n_classes = 0;
    if (!labels) {
        tq_pcg64_permutation(&rng, perm, (size_t)total);
        memcpy(idx, perm, (size_t)n * sizeof *idx);
    } else {
        for (int64_t i = 0; i < total; i++)
            order[i] = i;
        sort_labels = labels;
        qsort(order, (size_t)total, sizeof *order, cmp_by_label);
        sort_labels = NULL;
        int64_t k = 0;
        for (int64_t i = 0; i < total; i++) {
            if (i == 0 || labels[order[i]] != labels[order[i - 1]]) {
                cls[4 * k] = i;
                cls[4 * k + 1] = 0;
                k++;
            }
            cls[4 * (k - 1) + 1]++;
        }
        int64_t given = 0;
        for (int64_t c = 0; c < k; c++) {
            /* integer arithmetic, as numpy's n * counts // total and % total */
            cls[4 * c + 2] = n * cls[4 * c + 1] / total;
            cls[4 * c + 3] = n * cls[4 * c + 1] % total;
            given += cls[4 * c + 2];
            by_rem[c] = c;
        }
        /* stable order by descending remainder: insertion sort keeps ties in
         * class order (np.argsort(-rem, kind="stable")) */
        for (int64_t a = 1; a < k; a++) {
            int64_t c = by_rem[a], b = a;
            while (b > 0 && cls[4 * by_rem[b - 1] + 3] < cls[4 * c + 3]) {
                by_rem[b] = by_rem[b - 1];
                b--;
            }
            by_rem[b] = c;
        }
        for (int64_t a = 0; a < n - given; a++)
            cls[4 * by_rem[a] + 2]++;
        int64_t taken = 0;
        for (int64_t c = 0; c < k; c++) {
            const int64_t *members = order + cls[4 * c];
            int64_t size = cls[4 * c + 1], quota = cls[4 * c + 2];
            tq_pcg64_permutation(&rng, perm, (size_t)size);
            for (int64_t q = 0; q < quota; q++)
                idx[taken++] = members[perm[q]];
        }
        if (n_classes)
            *n_classes = (int)k;
    }
    qsort(idx, (size_t)n, sizeof *idx, cmp_i64);
    free(perm);
    free(order);
    free(cls);
    free(by_rem);
    return TQ_OK;
}

/* A later source must give exactly the stacks the first one gave. */
static int check_same_layout(const tq_source *first, const char *first_path,
                             const tq_source *s, const char *path, tq_error *err)
{
    if (s->stacks.n != first->stacks.n)
        return tq_fail(err, TQ_EFORMAT, "%s: %d sample entries, %s has %d", path, s->stacks.n,
                       first_path, first->stacks.n);
    for (int i = 0; i < s->stacks.n; i++) {
        const tq_tensor *a = &first->stacks.t[i], *b = tq_tensor_set_find(&s->stacks, a->name);
        if (!b)
            return tq_fail(err, TQ_EFORMAT, "%s: no entry '%s' (%s has it)", path, a->name,
                           first_path);
        int same = a->dtype == b->dtype && a->rank == b->rank;
        for (int d = 1; same && d < a->rank; d++)
            same = a->dims[d] == b->dims[d];
        if (!same)
            return tq_fail(err, TQ_EFORMAT,
                           "%s: entry '%s' differs in type or sample shape from %s", path,
                           a->name, first_path);
    }
    return TQ_OK;
}

int tq_calib_build(const char *const *sources, int n_sources, const tq_calib_build_options *o,
                   tq_tensor_set *out, tq_calib_build_info *info, tq_error *err)
{
    memset(out, 0, sizeof *out);
    memset(info, 0, sizeof *info);
    if (n_sources < 1)
        return tq_fail(err, TQ_EINVAL, "calib build: no source files");
    tq_source *src = calloc((size_t)n_sources, sizeof *src);
    if (!src)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    tq_source_request req = {.keys = o->keys, .n_keys = o->n_keys,
                             .label_key = o->stratify_key, .input_name = o->input_name};
    int rc = TQ_OK;
    int64_t total = 0;
    for (int s = 0; !rc && s < n_sources; s++) {
        rc = tq_source_read(sources[s], &req, &src[s], err);
        if (!rc && s > 0)
            rc = check_same_layout(&src[0], sources[0], &src[s], sources[s], err);
        total += rc ? 0 : src[s].rows;
    }
    double *labels = NULL;
    int64_t *idx = NULL;
    int64_t n = o->n > 0 ? o->n : total;
    if (!rc && total == 0)
        rc = tq_fail(err, TQ_EFORMAT, "%s: no samples", sources[0]);
    if (!rc && n > total)
        rc = tq_fail(err, TQ_EINVAL, "--n %lld: the sources hold only %lld samples",
                     (long long)n, (long long)total);
    if (!rc && (!(idx = malloc((size_t)n * sizeof *idx)) ||
                (o->stratify_key && !(labels = malloc((size_t)total * sizeof *labels)))))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    int64_t at = 0;
    for (int s = 0; !rc && labels && s < n_sources; at += src[s].rows, s++)
        memcpy(labels + at, src[s].labels, (size_t)src[s].rows * sizeof *labels);
    if (!rc)
        rc = tq_calib_select(labels, total, n, o->seed, idx, &info->n_classes, err);
    int n_stacks = rc ? 0 : src[0].stacks.n;
    if (!rc && !(out->t = calloc((size_t)n_stacks, sizeof *out->t)))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < n_stacks; i++) {
        const tq_tensor *proto = &src[0].stacks.t[i];
        tq_tensor *t = &out->t[out->n];
        size_t row_bytes = src[0].rows ? proto->nbytes / (size_t)src[0].rows : 0;
        if (!src[0].rows) { /* an empty first source: measure the row from the shape */
            row_bytes = tq_dtype_size(proto->dtype);
            for (int d = 1; d < proto->rank; d++)
                row_bytes *= (size_t)proto->dims[d];
        }
        *t = (tq_tensor){.dtype = proto->dtype, .rank = proto->rank, .nbytes = row_bytes * (size_t)n};
        memcpy(t->dims, proto->dims, sizeof t->dims);
        t->dims[0] = n;
        t->name = strdup(proto->name);
        t->data = malloc(t->nbytes + 1);
        out->n++;
        if (!t->name || !t->data) {
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
            break;
        }
        /* idx is sorted: walk the sources once */
        int s = 0;
        int64_t base = 0;
        for (int64_t r = 0; r < n; r++) {
            while (idx[r] >= base + src[s].rows)
                base += src[s++].rows;
            const tq_tensor *from = tq_tensor_set_find(&src[s].stacks, proto->name);
            memcpy((char *)t->data + (size_t)r * row_bytes,
                   (const char *)from->data + (size_t)(idx[r] - base) * row_bytes, row_bytes);
        }
    }
    if (!rc) {
        info->total = total;
        info->n = n;
    } else
        tq_tensor_set_free(out);
    for (int s = 0; s < n_sources; s++)
        tq_source_free(&src[s]);
    free(src);
    free(labels);
    free(idx);
    return rc;
}
