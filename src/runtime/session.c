/* The executor: binds a model's nodes to op implementations in topological
 * order, plans shapes and memory once per distinct input shape (folding
 * everything computable from constants), then runs without allocating. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/fuse.h"
#include "runtime/session_internal.h"
#include "util/error.h"

static const char *model_name(const tq_model *m)
{
    return m->path ? m->path : "model";
}

static int find_value(const tq_session *s, const char *name)
{
    for (int i = 0; i < s->n_values; i++)
        if (strcmp(s->values[i].v.name, name) == 0)
            return i;
    return -1;
}

static int add_value(tq_session *s, const char *name, value_kind kind, int producer)
{
    value_slot *vs = &s->values[s->n_values];
    memset(vs, 0, sizeof *vs);
    vs->v.name = name;
    vs->kind = kind;
    vs->producer = producer;
    vs->last_use = -1;
    return s->n_values++;
}

static int64_t node_opset(const tq_model *m, const tq_node *n)
{
    const char *d = n->domain ? n->domain : "";
    if (strcmp(d, "ai.onnx") == 0)
        d = "";
    for (int i = 0; i < m->n_opsets; i++) {
        const char *od = m->opsets[i].domain ? m->opsets[i].domain : "";
        if (strcmp(od, "ai.onnx") == 0)
            od = "";
        if (strcmp(od, d) == 0)
            return m->opsets[i].version;
    }
    return 0;
}

/* Kahn's algorithm over value names; fails on cycles and dangling inputs. */
static int topo_sort(tq_session *s, const tq_graph *g, int *order, tq_error *err)
{
    int n = g->n_nodes;
    bool *done = calloc((size_t)n + 1, sizeof *done);
    bool *avail = calloc((size_t)s->n_values + 1, sizeof *avail);
    if (!done || !avail) {
        free(done);
        free(avail);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", model_name(s->model));
    }
    for (int i = 0; i < s->n_values; i++)
        avail[i] = s->values[i].producer < 0;
    int placed = 0;
    bool progress = true;
    while (placed < n && progress) {
        progress = false;
        for (int i = 0; i < n; i++) {
            if (done[i])
                continue;
            const tq_node *nd = &g->nodes[i];
            bool ready = true;
            for (int k = 0; k < nd->n_inputs && ready; k++) {
                if (!nd->inputs[k][0])
                    continue;
                int vi = find_value(s, nd->inputs[k]);
                ready = vi >= 0 && avail[vi];
            }
            if (!ready)
                continue;
            for (int k = 0; k < nd->n_outputs; k++) {
                int vi = find_value(s, nd->outputs[k]);
                if (vi >= 0)
                    avail[vi] = true;
            }
            done[i] = true;
            order[placed++] = i;
            progress = true;
        }
    }
    int rc = TQ_OK;
    if (placed < n) {
        for (int i = 0; i < n && rc == TQ_OK; i++) {
            if (done[i])
                continue;
            const tq_node *nd = &g->nodes[i];
            for (int k = 0; k < nd->n_inputs; k++) {
                if (!nd->inputs[k][0])
                    continue;
                int vi = find_value(s, nd->inputs[k]);
                if (vi < 0) {
                    rc = tq_fail(err, TQ_EFORMAT,
                                 "%s: node '%s' (%s) reads '%s', which no node, input or "
                                 "initializer provides",
                                 model_name(s->model), nd->name, nd->op_type, nd->inputs[k]);
                    break;
                }
            }
            if (rc == TQ_OK)
                rc = tq_fail(err, TQ_EFORMAT, "%s: the graph has a cycle through node '%s' (%s)",
                             model_name(s->model), nd->name, nd->op_type);
        }
    }
    free(done);
    free(avail);
    return rc;
}

static int bind_graph(tq_session *s, tq_error *err)
{
    const tq_model *m = s->model;
    const tq_graph *g = &m->graph;
    const char *path = model_name(m);
    int cap = g->n_initializers + g->n_inputs;
    for (int i = 0; i < g->n_nodes; i++)
        cap += g->nodes[i].n_outputs;
    s->values = calloc((size_t)cap + 1, sizeof *s->values);
    s->nodes = calloc((size_t)g->n_nodes + 1, sizeof *s->nodes);
    s->graph_inputs = calloc((size_t)g->n_inputs + 1, sizeof(int));
    s->input_infos = calloc((size_t)g->n_inputs + 1, sizeof *s->input_infos);
    s->graph_outputs = calloc((size_t)g->n_outputs + 1, sizeof(int));
    int *order = calloc((size_t)g->n_nodes + 1, sizeof(int));
    if (!s->values || !s->nodes || !s->graph_inputs || !s->graph_outputs || !order ||
        !s->input_infos) {
        free(order);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
    }

    for (int i = 0; i < g->n_initializers; i++) {
        const tq_tensor *t = &g->initializers[i];
        if (find_value(s, t->name) >= 0)
            continue; /* duplicate initializer names: first wins, like ONNX Runtime */
        int vi = add_value(s, t->name, VALUE_INITIALIZER, -1);
        tq_value *v = &s->values[vi].v;
        tq_value_set_shape(v, t->dtype, t->rank, t->dims);
        v->data = t->data;
        v->nbytes = t->nbytes;
        v->is_const = true;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const tq_value_info *vi = &g->inputs[i];
        if (find_value(s, vi->name) >= 0)
            continue; /* an input that is also an initializer acts as a constant */
        int idx = add_value(s, vi->name, VALUE_INPUT, -1);
        s->values[idx].v.is_graph_input = true;
        s->input_infos[s->n_graph_inputs] = vi;
        s->graph_inputs[s->n_graph_inputs++] = idx;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const tq_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_outputs; k++) {
            if (!nd->outputs[k][0])
                continue;
            if (find_value(s, nd->outputs[k]) >= 0) {
                free(order);
                return tq_fail(err, TQ_EFORMAT,
                               "%s: value '%s' is produced twice (node '%s' (%s) and before)",
                               path, nd->outputs[k], nd->name, nd->op_type);
            }
            add_value(s, nd->outputs[k], VALUE_ACTIVATION, i); /* producer fixed below */
        }
    }

    int rc = topo_sort(s, g, order, err);
    if (rc) {
        free(order);
        return rc;
    }
    for (int pos = 0; pos < g->n_nodes; pos++) {
        const tq_node *nd = &g->nodes[order[pos]];
        exec_node *en = &s->nodes[s->n_nodes++];
        en->node = nd;
        en->def = tq_op_find(nd->domain, nd->op_type);
        if (!en->def) {
            free(order);
            char label[64];
            snprintf(label, sizeof label, "#%d", (int)(nd - g->nodes));
            return tq_fail(err, TQ_EUNSUPPORTED,
                           "%s: node '%s' uses operator %s%s%s, which tinyq does not support",
                           path, nd->name && nd->name[0] ? nd->name : label,
                           nd->domain && nd->domain[0] ? nd->domain : "",
                           nd->domain && nd->domain[0] ? "." : "", nd->op_type);
        }
        en->in_idx = calloc((size_t)nd->n_inputs + 1, sizeof(int));
        en->out_idx = calloc((size_t)nd->n_outputs + 1, sizeof(int));
        en->ctx.in = calloc((size_t)nd->n_inputs + 1, sizeof(tq_value *));
        en->ctx.out = calloc((size_t)nd->n_outputs + 1, sizeof(tq_value *));
        if (!en->in_idx || !en->out_idx || !en->ctx.in || !en->ctx.out) {
            free(order);
            return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
        }
        en->ctx.node = nd;
        en->ctx.opset = node_opset(s->model, nd);
        en->ctx.n_in = nd->n_inputs;
        en->ctx.n_out = nd->n_outputs;
        for (int k = 0; k < nd->n_inputs; k++) {
            int vi = nd->inputs[k][0] ? find_value(s, nd->inputs[k]) : -1;
            en->in_idx[k] = vi;
            if (vi >= 0) {
                s->values[vi].last_use = pos;
                en->ctx.in[k] = &s->values[vi].v;
            }
        }
        for (int k = 0; k < nd->n_outputs; k++) {
            int vi = nd->outputs[k][0] ? find_value(s, nd->outputs[k]) : -1;
            en->out_idx[k] = vi;
            if (vi >= 0) {
                s->values[vi].producer = pos;
                en->ctx.out[k] = &s->values[vi].v;
            }
        }
    }
    free(order);

    for (int i = 0; i < g->n_outputs; i++) {
        int vi = find_value(s, g->outputs[i].name);
        if (vi < 0)
            return tq_fail(err, TQ_EFORMAT, "%s: graph output '%s' is not produced by any node",
                           path, g->outputs[i].name);
        s->values[vi].last_use = s->n_nodes;
        s->graph_outputs[s->n_graph_outputs++] = vi;
    }
    /* A value nobody reads still lives while its producer writes it. */
    for (int i = 0; i < s->n_values; i++)
        if (s->values[i].producer >= 0 && s->values[i].last_use < s->values[i].producer)
            s->values[i].last_use = s->values[i].producer;
    return TQ_OK;
}

static void release_plan(tq_session *s)
{
    for (int i = 0; i < s->n_nodes; i++) {
        exec_node *en = &s->nodes[i];
        if (en->ctx.state && en->def && en->def->release)
            en->def->release(en->ctx.state);
        en->ctx.state = NULL;
        en->ctx.scratch_bytes = 0;
        en->ctx.scratch = NULL;
        en->folded = false;
    }
    for (int i = 0; i < s->n_values; i++) {
        value_slot *vs = &s->values[i];
        free(vs->prepared_content);
        vs->prepared_content = NULL;
        vs->v.read_in_prepare = false;
        if (vs->kind == VALUE_FOLDED) {
            free(vs->v.data);
            vs->kind = VALUE_ACTIVATION;
        }
        if (vs->kind == VALUE_ACTIVATION) {
            vs->v.data = NULL;
            vs->v.is_const = false;
            vs->v.nbytes = 0;
            vs->v.rank = 0;
            vs->v.dtype = TQ_UNDEFINED;
        }
    }
    s->planned = false;
}

void tq_session_free(tq_session **ps)
{
    if (!ps || !*ps)
        return;
    tq_session *s = *ps;
    release_plan(s);
    for (int i = 0; i < s->n_nodes; i++) {
        free(s->nodes[i].in_idx);
        free(s->nodes[i].out_idx);
        free(s->nodes[i].ctx.in);
        free(s->nodes[i].ctx.out);
    }
    free(s->nodes);
    free(s->values);
    free(s->graph_inputs);
    free(s->graph_outputs);
    free(s->input_infos);
    free(s->arena);
    for (int i = 0; i < TQ_SLICE_MAX_INPUTS; i++)
        free(s->slice_out[i]);
    tq_model_free(&s->fused_model);
    free(s);
    *ps = NULL;
}

int tq_session_create_ex(tq_session **out, const tq_model *m, bool fuse, tq_error *err)
{
    *out = NULL;
    if (!m)
        return tq_fail(err, TQ_EINVAL, "tq_session_create: no model");
    tq_session *s = calloc(1, sizeof *s);
    if (!s)
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", model_name(m));
    s->model = m;
    /* Fused integer kernels run on a rewritten copy the session owns. */
    int rc = fuse ? tq_fuse_for_session(m, &s->fused_model, err) : TQ_OK;
    if (rc) {
        tq_session_free(&s);
        return rc;
    }
    if (s->fused_model)
        s->model = s->fused_model;
    const char *no_slice = getenv("TQ_NO_SLICE");
    s->slice_off = no_slice && *no_slice && strcmp(no_slice, "0") != 0;
    rc = bind_graph(s, err);
    if (rc) {
        tq_session_free(&s);
        return rc;
    }
    *out = s;
    return TQ_OK;
}

/* Check a caller's tensor against the graph input record. */
static int check_input(const tq_session *s, const tq_value_info *info, const tq_tensor_view *t,
                       tq_error *err)
{
    const char *path = model_name(s->model);
    if (info->dtype != TQ_UNDEFINED && t->dtype != info->dtype)
        return tq_fail(err, TQ_EFORMAT, "%s: input '%s' has type %s, the model expects %s",
                       path, info->name, tq_dtype_name(t->dtype), tq_dtype_name(info->dtype));
    if (t->rank < 0 || t->rank > TQ_MAX_RANK)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s' has unsupported rank %d", path,
                       info->name, t->rank);
    if (info->rank >= 0 && t->rank != info->rank)
        return tq_fail(err, TQ_EFORMAT, "%s: input '%s' has rank %d, the model expects rank %d",
                       path, info->name, t->rank, info->rank);
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d] < 0)
            return tq_fail(err, TQ_EFORMAT, "%s: input '%s' has negative dimension %d", path,
                           info->name, d);
        if (info->rank >= 0 && info->dims[d] >= 0 && info->dims[d] != t->dims[d])
            return tq_fail(err, TQ_EFORMAT,
                           "%s: input '%s' dimension %d is %lld, the model expects %lld", path,
                           info->name, d, (long long)t->dims[d], (long long)info->dims[d]);
    }
    if (tq_shape_numel(t->dims, t->rank) < 0)
        return tq_fail(err, TQ_EFORMAT, "%s: input '%s' shape overflows", path, info->name);
    return TQ_OK;
}

/* Prepare every node for the current input shapes, fold constant subgraphs,
 * then plan the arena. */
static int plan(tq_session *s, tq_error *err)
{
    const char *path = model_name(s->model);
    release_plan(s);
    for (int i = 0; i < s->n_nodes; i++) {
        exec_node *en = &s->nodes[i];
        tq_op_ctx *c = &en->ctx;
        c->err = err;
        for (int k = 0; k < c->n_out; k++)
            if (!c->out[k] && k == 0)
                return tq_fail(err, TQ_EFORMAT, "%s: node '%s' (%s) has no output name", path,
                               en->node->name, en->node->op_type);
        int rc = en->def->prepare(c);
        if (rc) {
            if (err && err->code == TQ_OK)
                tq_fail(err, rc, "node '%s' (%s): prepare failed", en->node->name,
                        en->node->op_type);
            tq_error_prefix(err, "%s: ", path);
            return rc;
        }
        bool all_const = true;
        for (int k = 0; k < c->n_in; k++)
            if (c->in[k] && !c->in[k]->is_const && !en->def->shape_only)
                all_const = false;
        for (int k = 0; k < c->n_out; k++) {
            tq_value *v = c->out[k];
            if (!v)
                continue;
            size_t es = tq_dtype_size(v->dtype);
            int64_t numel = tq_value_numel(v);
            if (es == 0 || numel < 0 || (uint64_t)numel > SIZE_MAX / es)
                return tq_fail(err, TQ_EFORMAT,
                               "%s: node '%s' (%s): output '%s' has an invalid type or size",
                               path, en->node->name, en->node->op_type, v->name);
            v->nbytes = (size_t)numel * es;
        }
        if (!all_const)
            continue;
        /* Fold: compute now, keep the result for every run of this shape. */
        void *scratch = c->scratch_bytes ? malloc(c->scratch_bytes) : NULL;
        if (c->scratch_bytes && !scratch)
            return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
        for (int k = 0; k < c->n_out; k++) {
            tq_value *v = c->out[k];
            if (!v)
                continue;
            value_slot *vs = &s->values[en->out_idx[k]];
            v->data = calloc(1, v->nbytes ? v->nbytes : 1);
            vs->kind = VALUE_FOLDED;
            if (!v->data) {
                free(scratch);
                return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
            }
        }
        c->scratch = scratch;
        rc = en->def->eval(c);
        c->scratch = NULL;
        free(scratch);
        if (rc) {
            tq_error_prefix(err, "%s: ", path);
            return rc;
        }
        for (int k = 0; k < c->n_out; k++)
            if (c->out[k])
                c->out[k]->is_const = true;
        en->folded = true;
    }

    size_t need = tq_plan_arena(s);
    if (need == (size_t)-1)
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory planning memory", path);
    if (need > s->arena_capacity) {
        free(s->arena);
        s->arena = aligned_alloc(64, (need + 63) & ~(size_t)63);
        s->arena_capacity = s->arena ? need : 0;
        if (!s->arena)
            return tq_fail(err, TQ_ENOMEM, "%s: cannot allocate %zu bytes of activations", path,
                           need);
    }
    s->arena_bytes = need;
    for (int i = 0; i < s->n_values; i++) {
        value_slot *vs = &s->values[i];
        if (vs->kind == VALUE_ACTIVATION && vs->producer >= 0)
            vs->v.data = s->arena + vs->offset;
    }
    for (int i = 0; i < s->n_nodes; i++) {
        exec_node *en = &s->nodes[i];
        en->ctx.scratch = en->ctx.scratch_bytes ? s->arena + en->scratch_offset : NULL;
    }
    /* Inputs whose values shaped the plan (e.g. a Reshape target fed as an
     * input): remember them so a run with other values re-plans. */
    for (int i = 0; i < s->n_graph_inputs; i++) {
        value_slot *vs = &s->values[s->graph_inputs[i]];
        if (!vs->v.read_in_prepare)
            continue;
        vs->prepared_content = malloc(vs->v.nbytes ? vs->v.nbytes : 1);
        if (!vs->prepared_content)
            return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
        if (vs->v.nbytes)
            memcpy(vs->prepared_content, vs->v.data, vs->v.nbytes);
    }
    s->planned = true;
    return TQ_OK;
}

int tq_session_bind(tq_session *s, const tq_tensor_view *inputs, int n_inputs, tq_error *err)
{
    if (!s)
        return tq_fail(err, TQ_EINVAL, "tq_session_run: no session");
    const char *path = model_name(s->model);
    bool reshape = !s->planned;
    for (int i = 0; i < s->n_graph_inputs; i++) {
        const tq_value_info *info = s->input_infos[i];
        const tq_tensor_view *t = NULL;
        for (int k = 0; k < n_inputs; k++)
            if (inputs[k].name && strcmp(inputs[k].name, info->name) == 0)
                t = &inputs[k];
        if (!t)
            return tq_fail(err, TQ_EINVAL, "%s: input '%s' was not given", path, info->name);
        int rc = check_input(s, info, t, err);
        if (rc)
            return rc;
        tq_value *v = &s->values[s->graph_inputs[i]].v;
        if (v->rank != t->rank || v->dtype != t->dtype ||
            memcmp(v->dims, t->dims, sizeof(int64_t) * (size_t)t->rank) != 0)
            reshape = true;
        tq_value_set_shape(v, t->dtype, t->rank, t->dims);
        v->nbytes = (size_t)tq_shape_numel(t->dims, t->rank) * tq_dtype_size(t->dtype);
        v->data = t->data;
        const void *planned_for = s->values[s->graph_inputs[i]].prepared_content;
        if (!reshape && planned_for && v->nbytes && memcmp(planned_for, v->data, v->nbytes) != 0)
            reshape = true;
    }
    for (int k = 0; k < n_inputs; k++) {
        bool known = false;
        for (int i = 0; i < s->n_graph_inputs && !known; i++)
            known = inputs[k].name && strcmp(inputs[k].name, s->input_infos[i]->name) == 0;
        if (!known)
            return tq_fail(err, TQ_EINVAL, "%s: the model has no input named '%s'", path,
                           inputs[k].name ? inputs[k].name : "(null)");
    }
    if (reshape) {
        int rc = plan(s, err);
        if (rc) {
            release_plan(s);
            return rc;
        }
    }
    return TQ_OK;
}

int tq_session_run_once(tq_session *s, const tq_tensor_view *inputs, int n_inputs,
                        tq_tensor_view *outputs, int n_outputs, tq_error *err)
{
    int rc = tq_session_bind(s, inputs, n_inputs, err);
    if (rc)
        return rc;
    const char *path = model_name(s->model);
    if (s->observer)
        for (int i = 0; i < s->n_graph_inputs; i++)
            s->observer(&s->values[s->graph_inputs[i]].v, s->observer_user);
    for (int i = 0; i < s->n_nodes; i++) {
        exec_node *en = &s->nodes[i];
        if (en->folded)
            continue;
        en->ctx.err = err;
        int rc = en->def->eval(&en->ctx);
        if (rc) {
            tq_error_prefix(err, "%s: ", path);
            return rc;
        }
        if (s->observer)
            for (int k = 0; k < en->ctx.n_out; k++)
                if (en->ctx.out[k])
                    s->observer(en->ctx.out[k], s->observer_user);
    }
    for (int i = 0; i < n_outputs && i < s->n_graph_outputs; i++)
        tq_session_output_view(s, i, &outputs[i]);
    return TQ_OK;
}

void tq_session_output_view(const tq_session *s, int i, tq_tensor_view *o)
{
    const tq_value *v = &s->values[s->graph_outputs[i]].v;
    o->name = v->name;
    o->dtype = v->dtype;
    o->rank = v->rank;
    memcpy(o->dims, v->dims, sizeof o->dims);
    o->data = v->data;
}

int tq_session_create(tq_session **out, const tq_model *m, tq_error *err)
{
    const char *env = getenv("TQ_NO_FUSE");
    return tq_session_create_ex(out, m, !(env && *env && strcmp(env, "0") != 0), err);
}

size_t tq_session_arena_bytes(const tq_session *s)
{
    return s ? s->arena_bytes : 0;
}

void tq_session_set_observer(tq_session *s, tq_value_observer fn, void *user)
{
    s->observer = fn;
    s->observer_user = user;
}
