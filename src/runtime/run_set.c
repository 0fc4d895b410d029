/* Runs a model over a named tensor set (an npz's contents). */
#include "runtime/run_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/synthetic.h"
#include "util/error.h"

#define MAX_IO 16

/* Append rows of `src` (a graph output of one run) to `dst`, growing axis 0. */
static int append_rows(tq_tensor *dst, const tq_tensor_view *src, int64_t total_rows,
                       tq_error *err)
{
    size_t es = tq_dtype_size(src->dtype);
    int64_t numel = tq_shape_numel(src->dims, src->rank);
    size_t bytes = (size_t)numel * es;
    if (!dst->name) {
        dst->name = strdup(src->name);
        dst->dtype = src->dtype;
        dst->rank = src->rank == 0 ? 1 : src->rank;
        memcpy(dst->dims, src->dims, sizeof dst->dims);
        if (src->rank == 0)
            dst->dims[0] = 1;
        dst->dims[0] = 0;
        dst->data = malloc(bytes * (size_t)total_rows + 1);
        if (!dst->name || !dst->data)
            return tq_fail(err, TQ_ENOMEM, "out of memory collecting output '%s'", src->name);
    } else if (src->dtype != dst->dtype || (src->rank ? src->rank : 1) != dst->rank) {
        return tq_fail(err, TQ_EFORMAT, "output '%s' changes type or rank between samples",
                       src->name);
    }
    int64_t rows = src->rank ? src->dims[0] : 1;
    memcpy((char *)dst->data + dst->nbytes, src->data, bytes);
    dst->nbytes += bytes;
    dst->dims[0] += rows;
    return TQ_OK;
}

int tq_run_set(tq_session *s, const tq_model *m, const tq_tensor_set *in, const char *source,
               int per_sample, tq_tensor_set *out, tq_error *err)
{
    memset(out, 0, sizeof *out);
    const tq_value_info *infos[MAX_IO];
    int n_in = tq_model_runtime_inputs(m, infos, MAX_IO);
    int n_out = m->graph.n_outputs;
    if (n_in > MAX_IO || n_out > MAX_IO)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: more than %d inputs or outputs", m->path, MAX_IO);
    const tq_tensor *src[MAX_IO];
    int64_t rows = -1;
    for (int i = 0; i < n_in; i++) {
        src[i] = tq_tensor_set_find(in, infos[i]->name);
        if (!src[i]) {
            char keys[512] = "";
            for (int k = 0; k < in->n; k++)
                snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s'%s'", k ? ", " : "",
                         in->t[k].name);
            return tq_fail(err, TQ_EFORMAT, "%s: no entry '%s' for model input '%s' (has: %s)",
                           source, infos[i]->name, infos[i]->name, in->n ? keys : "nothing");
        }
        if (src[i]->rank < 1 && per_sample)
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s' is a scalar; samples are stacked on axis 0",
                           source, src[i]->name);
        if (per_sample) {
            if (rows >= 0 && src[i]->dims[0] != rows)
                return tq_fail(err, TQ_EFORMAT,
                               "%s: entry '%s' has %lld samples, '%s' has %lld", source,
                               src[i]->name, (long long)src[i]->dims[0], src[0]->name,
                               (long long)rows);
            rows = src[i]->dims[0];
        }
    }
    int64_t n_runs = per_sample ? rows : 1;
    if (per_sample && rows == 0)
        return tq_fail(err, TQ_EFORMAT, "%s: zero samples", source);
    out->t = calloc((size_t)n_out + 1, sizeof(tq_tensor));
    if (!out->t)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    out->n = n_out;
    int rc = TQ_OK;
    for (int64_t r = 0; r < n_runs && rc == TQ_OK; r++) {
        tq_tensor_view views[MAX_IO], outs[MAX_IO];
        for (int i = 0; i < n_in; i++) {
            const tq_tensor *t = src[i];
            views[i] = (tq_tensor_view){.name = infos[i]->name, .dtype = t->dtype, .rank = t->rank};
            memcpy(views[i].dims, t->dims, sizeof views[i].dims);
            views[i].data = t->data;
            if (per_sample) {
                int64_t row_elems = tq_tensor_numel(t) / (t->dims[0] ? t->dims[0] : 1);
                views[i].dims[0] = 1;
                views[i].data = (char *)t->data + (size_t)(r * row_elems) * tq_dtype_size(t->dtype);
            }
        }
        rc = tq_session_run(s, views, n_in, outs, n_out, err);
        if (rc) {
            if (per_sample)
                tq_error_prefix(err, "%s: sample %lld: ", source, (long long)r);
            else
                tq_error_prefix(err, "%s: ", source);
            break;
        }
        for (int k = 0; k < n_out && rc == TQ_OK; k++)
            rc = append_rows(&out->t[k], &outs[k], n_runs, err);
    }
    if (rc)
        tq_tensor_set_free(out);
    return rc;
}
