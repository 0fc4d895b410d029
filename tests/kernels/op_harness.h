/* Runs one op outside any graph: builds the tq_node and tq_op_ctx the
 * executor would, calls prepare, allocates outputs and scratch, calls eval,
 * and releases the state (so ASan sees every op's ownership). */
#ifndef TQ_TESTS_OP_HARNESS_H
#define TQ_TESTS_OP_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/op.h"

typedef struct op_attr_spec {
    const char *name;
    tq_attr_type type;
    int64_t i;
    float f;
    const char *s;
    int n;
    const int64_t *ints;
    const float *floats;
} op_attr_spec;

#define ATTR_INT(nm, v) { .name = (nm), .type = TQ_ATTR_INT, .i = (v) }
#define ATTR_FLOAT(nm, v) { .name = (nm), .type = TQ_ATTR_FLOAT, .f = (v) }
#define ATTR_STR(nm, v) { .name = (nm), .type = TQ_ATTR_STRING, .s = (v) }
#define ATTR_INTS(nm, cnt, arr) { .name = (nm), .type = TQ_ATTR_INTS, .n = (cnt), .ints = (arr) }
#define ATTR_FLOATS(nm, cnt, arr)                                                            \
    { .name = (nm), .type = TQ_ATTR_FLOATS, .n = (cnt), .floats = (arr) }

static inline tq_value make_value(const char *name, int rank, const int64_t *dims, float *data,
                                  bool is_const)
{
    tq_value v;
    memset(&v, 0, sizeof v);
    v.name = name;
    v.dtype = TQ_FLOAT;
    v.rank = rank;
    for (int i = 0; i < rank; i++)
        v.dims[i] = dims[i];
    v.data = data;
    v.nbytes = (size_t)tq_shape_numel(dims, rank) * sizeof(float);
    v.is_const = is_const;
    return v;
}

/* Returns the op's status; on success *out holds a malloc'ed output buffer
 * (caller frees out->data). err receives the message on failure. */
static inline int run_op(const char *domain, const char *op_type, const op_attr_spec *attrs,
                         int n_attrs, tq_value **in, int n_in, tq_value *out, int64_t opset,
                         tq_error *err)
{
    const tq_op_def *def = tq_op_find(domain, op_type);
    if (!def) {
        snprintf(err->msg, sizeof err->msg, "no op %s", op_type);
        return err->code = TQ_EUNSUPPORTED;
    }
    tq_attr at[16];
    memset(at, 0, sizeof at);
    for (int i = 0; i < n_attrs; i++) {
        at[i].name = (char *)attrs[i].name;
        at[i].type = attrs[i].type;
        at[i].i = attrs[i].i;
        at[i].f = attrs[i].f;
        at[i].s = (char *)attrs[i].s;
        at[i].n = attrs[i].n;
        at[i].ints = (int64_t *)attrs[i].ints;
        at[i].floats = (float *)attrs[i].floats;
    }
    char *in_names[8], *out_names[1] = { (char *)"y" };
    for (int i = 0; i < n_in; i++)
        in_names[i] = (char *)(in[i] ? in[i]->name : "");
    tq_node node = { .name = (char *)"test_node", .op_type = (char *)op_type,
                     .domain = (char *)domain, .inputs = in_names, .n_inputs = n_in,
                     .outputs = out_names, .n_outputs = 1, .attrs = at, .n_attrs = n_attrs };
    memset(out, 0, sizeof *out);
    out->name = "y";
    tq_value *outs[1] = { out };
    tq_op_ctx c = { .node = &node, .opset = opset, .n_in = n_in, .n_out = 1, .in = in,
                    .out = outs, .err = err };
    err->code = 0;
    err->msg[0] = '\0';
    int rc = def->prepare(&c);
    if (rc == TQ_OK) {
        int64_t n = tq_value_numel(out);
        out->nbytes = (size_t)n * sizeof(float);
        out->data = malloc(out->nbytes + sizeof(float));
        c.scratch = malloc(c.scratch_bytes + 1);
        /* outputs are not zeroed by the executor either */
        memset(out->data, 0xA5, out->nbytes);
        rc = def->eval(&c);
        free(c.scratch);
        if (rc) {
            free(out->data);
            out->data = NULL;
        }
    }
    if (def->release && c.state)
        def->release(c.state);
    else if (!def->release)
        free(c.state);
    return rc;
}

#endif
