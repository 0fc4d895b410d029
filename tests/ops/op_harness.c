/* Single-op runner for tests (see op_harness.h). */
#include "op_harness.h"

#include <stdlib.h>
#include <string.h>

int run_init(op_run *r, const char *op_type, int64_t opset, int n_out)
{
    memset(r, 0, sizeof *r);
    r->model = tq_model_new();
    if (!r->model)
        return TQ_ENOMEM;
    r->node = tq_graph_add_node(&r->model->graph, op_type, "n0");
    if (!r->node)
        return TQ_ENOMEM;
    r->opset = opset;
    r->n_out = n_out;
    for (int i = 0; i < n_out; i++) {
        r->out[i] = &r->out_vals[i];
        r->out_vals[i].name = "out";
    }
    return TQ_OK;
}

int run_input(op_run *r, const char *name, tq_dtype dt, int rank, const int64_t *dims,
              const void *data, bool is_const)
{
    int i = r->n_in++;
    if (!data && !dims) {
        r->in[i] = NULL;
        return tq_node_add_input(r->node, "");
    }
    tq_value *v = &r->in_vals[i];
    v->name = name;
    v->dtype = dt;
    v->rank = rank;
    for (int k = 0; k < rank; k++)
        v->dims[k] = dims[k];
    v->nbytes = (size_t)tq_value_numel(v) * tq_dtype_size(dt);
    v->data = malloc(v->nbytes ? v->nbytes : 1);
    if (!v->data)
        return TQ_ENOMEM;
    if (v->nbytes)
        memcpy(v->data, data, v->nbytes);
    v->is_const = is_const;
    r->in[i] = v;
    return tq_node_add_input(r->node, name);
}

int run_exec(op_run *r)
{
    const tq_op_def *def = tq_op_find("", r->node->op_type);
    if (!def)
        return TQ_EUNSUPPORTED;
    for (int i = 0; i < r->n_out; i++)
        if (tq_node_add_output(r->node, "out"))
            return TQ_ENOMEM;
    tq_op_ctx *c = &r->ctx;
    c->node = r->node;
    c->opset = r->opset;
    c->n_in = r->n_in;
    c->n_out = r->n_out;
    c->in = r->in;
    c->out = r->out;
    c->err = &r->err;
    int rc = def->prepare(c);
    if (rc)
        return rc;
    for (int i = 0; i < r->n_out; i++) {
        tq_value *v = r->out[i];
        int64_t n = tq_value_numel(v);
        if (n < 0)
            return TQ_EINTERNAL;
        v->nbytes = (size_t)n * tq_dtype_size(v->dtype);
        v->data = malloc(v->nbytes ? v->nbytes : 1);
        if (!v->data)
            return TQ_ENOMEM;
        memset(v->data, 0xA5, v->nbytes); /* sentinel: unwritten outputs show */
    }
    if (c->scratch_bytes) {
        c->scratch = malloc(c->scratch_bytes);
        if (!c->scratch)
            return TQ_ENOMEM;
        memset(c->scratch, 0x5A, c->scratch_bytes);
    }
    return def->eval(c);
}

void run_free(op_run *r)
{
    const tq_op_def *def = r->node ? tq_op_find("", r->node->op_type) : NULL;
    if (def && def->release && r->ctx.state)
        def->release(r->ctx.state);
    free(r->ctx.scratch);
    for (int i = 0; i < r->n_in; i++)
        free(r->in_vals[i].data);
    for (int i = 0; i < r->n_out; i++)
        free(r->out_vals[i].data);
    tq_model_free(&r->model);
    memset(r, 0, sizeof *r);
}
