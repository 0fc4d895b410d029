/* Deep copy of a model for execution-time rewrites (graph/fuse.h). */
#include <stdlib.h>
#include <string.h>

#include "graph/fuse.h"

static char *dup_or_null(const char *s, int *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = 1;
    return d;
}

static void *dup_mem(const void *p, size_t n, int *fail)
{
    if (!p || !n)
        return NULL;
    void *d = malloc(n);
    if (!d) {
        *fail = 1;
        return NULL;
    }
    return memcpy(d, p, n);
}

static void copy_attr(tq_attr *d, const tq_attr *s, int *fail)
{
    *d = *s;
    d->name = dup_or_null(s->name, fail);
    d->s = dup_or_null(s->s, fail);
    d->t = NULL;
    d->floats = NULL;
    d->ints = NULL;
    d->strings = NULL;
    if (s->t) {
        d->t = calloc(1, sizeof *d->t);
        if (!d->t || tq_tensor_copy(d->t, s->t))
            *fail = 1;
    }
    if (s->type == TQ_ATTR_FLOATS)
        d->floats = dup_mem(s->floats, sizeof(float) * (size_t)s->n, fail);
    if (s->type == TQ_ATTR_INTS)
        d->ints = dup_mem(s->ints, sizeof(int64_t) * (size_t)s->n, fail);
    if (s->type == TQ_ATTR_STRINGS && s->strings) {
        d->strings = calloc((size_t)s->n + 1, sizeof(char *));
        if (!d->strings)
            *fail = 1;
        else
            for (int i = 0; i < s->n; i++)
                d->strings[i] = dup_or_null(s->strings[i], fail);
    }
}

int tq_node_copy_attrs(tq_node *dst, const tq_node *src)
{
    for (int k = 0; k < src->n_attrs; k++) {
        tq_attr *a = tq_node_add_attr(dst, src->attrs[k].name, src->attrs[k].type);
        if (!a)
            return TQ_ENOMEM;
        free(a->name); /* copy_attr writes every field, the name included */
        int fail = 0;
        copy_attr(a, &src->attrs[k], &fail);
        if (fail)
            return TQ_ENOMEM;
    }
    return TQ_OK;
}

static char **copy_names(char **src, int n, int *fail)
{
    char **d = calloc((size_t)n + 1, sizeof(char *));
    if (!d) {
        *fail = 1;
        return NULL;
    }
    for (int i = 0; i < n; i++)
        d[i] = dup_or_null(src[i], fail);
    return d;
}

static void copy_node(tq_node *d, const tq_node *s, int *fail)
{
    memset(d, 0, sizeof *d);
    d->name = dup_or_null(s->name, fail);
    d->op_type = dup_or_null(s->op_type, fail);
    d->domain = dup_or_null(s->domain, fail);
    d->inputs = copy_names(s->inputs, s->n_inputs, fail);
    d->n_inputs = d->inputs ? s->n_inputs : 0;
    d->outputs = copy_names(s->outputs, s->n_outputs, fail);
    d->n_outputs = d->outputs ? s->n_outputs : 0;
    d->attrs = calloc((size_t)s->n_attrs + 1, sizeof(tq_attr));
    if (!d->attrs) {
        *fail = 1;
        return;
    }
    d->n_attrs = s->n_attrs;
    for (int i = 0; i < s->n_attrs; i++)
        copy_attr(&d->attrs[i], &s->attrs[i], fail);
}

static tq_value_info *copy_infos(const tq_value_info *s, int n, int *fail)
{
    tq_value_info *d = calloc((size_t)n + 1, sizeof *d);
    if (!d) {
        *fail = 1;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        d[i] = s[i];
        d[i].name = dup_or_null(s[i].name, fail);
        for (int k = 0; k < TQ_MAX_RANK; k++)
            d[i].dim_params[k] = dup_or_null(s[i].dim_params[k], fail);
    }
    return d;
}

int tq_model_copy_for_exec(const tq_model *src, tq_model **out, tq_error *err)
{
    *out = NULL;
    int fail = 0;
    tq_model *m = tq_model_new();
    if (!m)
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", src->path ? src->path : "model");
    m->ir_version = src->ir_version;
    m->path = dup_or_null(src->path, &fail);
    m->file_bytes = src->file_bytes;
    m->external_bytes = src->external_bytes;
    m->n_external_tensors = src->n_external_tensors;
    m->opsets = calloc((size_t)src->n_opsets + 1, sizeof(tq_opset));
    if (!m->opsets)
        fail = 1;
    else {
        m->n_opsets = src->n_opsets;
        for (int i = 0; i < src->n_opsets; i++) {
            m->opsets[i].version = src->opsets[i].version;
            m->opsets[i].domain = dup_or_null(src->opsets[i].domain, &fail);
        }
    }
    const tq_graph *sg = &src->graph;
    tq_graph *g = &m->graph;
    g->name = dup_or_null(sg->name, &fail);
    g->nodes = calloc((size_t)sg->n_nodes + 1, sizeof(tq_node));
    g->initializers = calloc((size_t)sg->n_initializers + 1, sizeof(tq_tensor));
    if (!g->nodes || !g->initializers)
        fail = 1;
    for (int i = 0; !fail && i < sg->n_nodes; i++) {
        copy_node(&g->nodes[i], &sg->nodes[i], &fail);
        g->n_nodes = i + 1;
    }
    for (int i = 0; !fail && i < sg->n_initializers; i++) {
        if (tq_tensor_copy(&g->initializers[i], &sg->initializers[i]))
            fail = 1;
        else
            g->n_initializers = i + 1;
    }
    if (!fail) {
        g->inputs = copy_infos(sg->inputs, sg->n_inputs, &fail);
        g->n_inputs = g->inputs ? sg->n_inputs : 0;
        g->outputs = copy_infos(sg->outputs, sg->n_outputs, &fail);
        g->n_outputs = g->outputs ? sg->n_outputs : 0;
    }
    if (fail) {
        tq_model_free(&m);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory copying the model",
                       src->path ? src->path : "model");
    }
    *out = m;
    return TQ_OK;
}
