/* IR -> ONNX ModelProto (protobuf-c): tq_onnx_serialize and tq_model_save.
 * The protobuf-c message tree borrows the IR's strings and buffers; only the
 * message structs and pointer arrays are allocated, from a small arena that
 * is freed in one go. Every weight is written inline as raw_data. */
#define _POSIX_C_SOURCE 200809L
#include "onnx/onnx_io.h"

#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_proto.h"
#include "util/error.h"
#include "util/fileio.h"

typedef struct save_ctx {
    void **blocks;
    size_t n, cap;
    int failed;
    const char *where;
    tq_error *err;
} save_ctx;

/* Zeroed allocation owned by the arena; NULL (and ctx->failed) on failure. */
static void *arena_alloc(save_ctx *c, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        void **b = realloc(c->blocks, cap * sizeof *b);
        if (!b) {
            c->failed = 1;
            return NULL;
        }
        c->blocks = b;
        c->cap = cap;
    }
    void *p = calloc(n, size);
    if (!p) {
        c->failed = 1;
        return NULL;
    }
    c->blocks[c->n++] = p;
    return p;
}

static void arena_free(save_ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->blocks[i]);
    free(c->blocks);
}

/* protobuf-c's message fields are non-const but packing never writes them. */
static char *str(const char *s)
{
    return (char *)s;
}

static Onnx__TensorProto *save_tensor(save_ctx *c, const tq_tensor *t)
{
    Onnx__TensorProto *tp = arena_alloc(c, 1, sizeof *tp);
    if (!tp)
        return NULL;
    onnx__tensor_proto__init(tp);
    tp->name = str(t->name);
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->n_dims = (size_t)t->rank;
    tp->dims = (int64_t *)t->dims;
    tp->has_raw_data = 1;
    tp->raw_data.len = t->nbytes;
    tp->raw_data.data = t->data;
    return tp;
}

static Onnx__ValueInfoProto *save_value_info(save_ctx *c, const tq_value_info *v)
{
    Onnx__ValueInfoProto *vp = arena_alloc(c, 1, sizeof *vp);
    if (!vp)
        return NULL;
    onnx__value_info_proto__init(vp);
    vp->name = str(v->name);
    if (v->dtype == TQ_UNDEFINED && v->rank < 0)
        return vp; /* nothing was known about the type */
    Onnx__TypeProto *type = arena_alloc(c, 1, sizeof *type);
    Onnx__TypeProto__Tensor *tt = arena_alloc(c, 1, sizeof *tt);
    if (!type || !tt)
        return NULL;
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tt);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    vp->type = type;
    if (v->dtype != TQ_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)v->dtype;
    }
    if (v->rank < 0)
        return vp;
    Onnx__TensorShapeProto *shape = arena_alloc(c, 1, sizeof *shape);
    if (!shape)
        return NULL;
    onnx__tensor_shape_proto__init(shape);
    tt->shape = shape;
    shape->n_dim = (size_t)v->rank;
    if (v->rank == 0)
        return vp;
    shape->dim = arena_alloc(c, (size_t)v->rank, sizeof *shape->dim);
    Onnx__TensorShapeProto__Dimension *dims = arena_alloc(c, (size_t)v->rank, sizeof *dims);
    if (!shape->dim || !dims)
        return NULL;
    for (int i = 0; i < v->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = &dims[i];
        onnx__tensor_shape_proto__dimension__init(d);
        if (v->dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = v->dims[i];
        } else if (v->dim_params[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = str(v->dim_params[i]);
        }
        shape->dim[i] = d;
    }
    return vp;
}

static Onnx__ValueInfoProto **save_value_infos(save_ctx *c, const tq_value_info *v, int n)
{
    Onnx__ValueInfoProto **arr = arena_alloc(c, (size_t)n, sizeof *arr);
    for (int i = 0; arr && i < n; i++)
        arr[i] = save_value_info(c, &v[i]);
    return arr;
}

static int save_attr(save_ctx *c, const tq_node *n, const tq_attr *a,
                     Onnx__AttributeProto *ap)
{
    onnx__attribute_proto__init(ap);
    ap->name = str(a->name);
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case TQ_ATTR_FLOAT: ap->has_f = 1; ap->f = a->f; break;
    case TQ_ATTR_INT: ap->has_i = 1; ap->i = a->i; break;
    case TQ_ATTR_STRING:
        ap->has_s = 1;
        ap->s.data = (uint8_t *)a->s;
        ap->s.len = a->s ? strlen(a->s) : 0;
        break;
    case TQ_ATTR_TENSOR:
        if (!a->t)
            return tq_fail(c->err, TQ_EINVAL, "%s: node '%s': tensor attribute '%s' has no "
                           "tensor", c->where, n->name, a->name);
        ap->t = save_tensor(c, a->t);
        break;
    case TQ_ATTR_FLOATS: ap->n_floats = (size_t)a->n; ap->floats = a->floats; break;
    case TQ_ATTR_INTS: ap->n_ints = (size_t)a->n; ap->ints = a->ints; break;
    case TQ_ATTR_STRINGS:
        ap->n_strings = (size_t)a->n;
        ap->strings = arena_alloc(c, (size_t)a->n, sizeof *ap->strings);
        for (int i = 0; ap->strings && i < a->n; i++) {
            ap->strings[i].data = (uint8_t *)a->strings[i];
            ap->strings[i].len = strlen(a->strings[i]);
        }
        break;
    default:
        return tq_fail(c->err, TQ_EUNSUPPORTED, "%s: node '%s': attribute '%s' of type %d "
                       "cannot be saved (subgraphs are not kept in memory)", c->where,
                       n->name, a->name, (int)a->type);
    }
    return TQ_OK;
}

static Onnx__NodeProto *save_node(save_ctx *c, const tq_node *n)
{
    Onnx__NodeProto *np = arena_alloc(c, 1, sizeof *np);
    if (!np)
        return NULL;
    onnx__node_proto__init(np);
    np->name = str(n->name);
    np->op_type = str(n->op_type);
    /* An empty domain is the default ai.onnx one: leave the field out. */
    np->domain = n->domain && n->domain[0] ? str(n->domain) : NULL;
    np->n_input = (size_t)n->n_inputs;
    np->input = n->inputs;
    np->n_output = (size_t)n->n_outputs;
    np->output = n->outputs;
    np->n_attribute = (size_t)n->n_attrs;
    np->attribute = arena_alloc(c, (size_t)n->n_attrs, sizeof *np->attribute);
    Onnx__AttributeProto *attrs = arena_alloc(c, (size_t)n->n_attrs, sizeof *attrs);
    for (int i = 0; np->attribute && attrs && i < n->n_attrs; i++) {
        if (save_attr(c, n, &n->attrs[i], &attrs[i]))
            return NULL;
        np->attribute[i] = &attrs[i];
    }
    return np;
}

static Onnx__GraphProto *save_graph(save_ctx *c, const tq_graph *g)
{
    Onnx__GraphProto *gp = arena_alloc(c, 1, sizeof *gp);
    if (!gp)
        return NULL;
    onnx__graph_proto__init(gp);
    gp->name = str(g->name);
    gp->n_node = (size_t)g->n_nodes;
    gp->node = arena_alloc(c, (size_t)g->n_nodes, sizeof *gp->node);
    for (int i = 0; gp->node && i < g->n_nodes; i++)
        if (!(gp->node[i] = save_node(c, &g->nodes[i])))
            return NULL;
    gp->n_initializer = (size_t)g->n_initializers;
    gp->initializer = arena_alloc(c, (size_t)g->n_initializers, sizeof *gp->initializer);
    for (int i = 0; gp->initializer && i < g->n_initializers; i++)
        gp->initializer[i] = save_tensor(c, &g->initializers[i]);
    gp->n_input = (size_t)g->n_inputs;
    gp->input = save_value_infos(c, g->inputs, g->n_inputs);
    gp->n_output = (size_t)g->n_outputs;
    gp->output = save_value_infos(c, g->outputs, g->n_outputs);
    gp->n_value_info = (size_t)g->n_value_info;
    gp->value_info = save_value_infos(c, g->value_info, g->n_value_info);
    return gp;
}

/* The file is encoded with the onnx.proto we were built against, so it is a
 * file of that IR version: fields newer IR versions added are not kept. We
 * say so in ir_version whenever the opsets allow it (IR 8 covers ai.onnx up
 * to opset 18), which also keeps older ONNX tools able to read it. A model
 * built from scratch (ir_version 0) gets the same. */
int64_t tq_onnx_saved_ir_version(const tq_model *m)
{
    int64_t ir = m->ir_version;
    if (ir <= 0 || (ir > ONNX__VERSION__IR_VERSION && tq_model_opset(m) <= 18))
        ir = ONNX__VERSION__IR_VERSION;
    return ir;
}

static Onnx__ModelProto *save_model(save_ctx *c, const tq_model *m)
{
    Onnx__ModelProto *mp = arena_alloc(c, 1, sizeof *mp);
    if (!mp)
        return NULL;
    onnx__model_proto__init(mp);
    mp->has_ir_version = 1;
    mp->ir_version = tq_onnx_saved_ir_version(m);
    mp->producer_name = str(m->producer_name);
    mp->producer_version = str(m->producer_version);
    mp->domain = str(m->domain);
    mp->has_model_version = m->model_version != 0;
    mp->model_version = m->model_version;
    mp->doc_string = str(m->doc_string);
    mp->n_opset_import = (size_t)m->n_opsets;
    mp->opset_import = arena_alloc(c, (size_t)m->n_opsets, sizeof *mp->opset_import);
    Onnx__OperatorSetIdProto *ops = arena_alloc(c, (size_t)m->n_opsets, sizeof *ops);
    for (int i = 0; mp->opset_import && ops && i < m->n_opsets; i++) {
        onnx__operator_set_id_proto__init(&ops[i]);
        ops[i].domain = str(m->opsets[i].domain);
        ops[i].has_version = 1;
        ops[i].version = m->opsets[i].version;
        mp->opset_import[i] = &ops[i];
    }
    mp->n_metadata_props = (size_t)m->n_meta;
    mp->metadata_props = arena_alloc(c, (size_t)m->n_meta, sizeof *mp->metadata_props);
    Onnx__StringStringEntryProto *kv = arena_alloc(c, (size_t)m->n_meta, sizeof *kv);
    for (int i = 0; mp->metadata_props && kv && i < m->n_meta; i++) {
        onnx__string_string_entry_proto__init(&kv[i]);
        kv[i].key = str(m->meta[i].key);
        kv[i].value = str(m->meta[i].value);
        mp->metadata_props[i] = &kv[i];
    }
    mp->graph = save_graph(c, &m->graph);
    return mp->graph ? mp : NULL;
}

int tq_onnx_serialize(const tq_model *m, uint8_t **buf, size_t *len, tq_error *err)
{
    *buf = NULL;
    *len = 0;
    const char *where = m && m->path ? m->path : "<model>";
    if (!m)
        return tq_fail(err, TQ_EINVAL, "tq_onnx_serialize: model is NULL");
    save_ctx c = {.where = where, .err = err};
    Onnx__ModelProto *mp = save_model(&c, m);
    int rc = TQ_OK;
    if (err && err->code)
        rc = err->code;
    else if (!mp || c.failed)
        rc = tq_fail(err, TQ_ENOMEM, "%s: out of memory while serializing", where);
    if (!rc) {
        size_t n = protobuf_c_message_get_packed_size(&mp->base);
        uint8_t *out = malloc(n ? n : 1);
        if (!out) {
            rc = tq_fail(err, TQ_ENOMEM, "%s: out of memory for %zu serialized bytes", where, n);
        } else {
            protobuf_c_message_pack(&mp->base, out);
            *buf = out;
            *len = n;
        }
    }
    arena_free(&c);
    return rc;
}

TQ_API int tq_model_save(const tq_model *m, const char *path, tq_error *err)
{
    if (!m || !path)
        return tq_fail(err, TQ_EINVAL, "tq_model_save: NULL argument");
    uint8_t *buf;
    size_t len;
    int rc = tq_onnx_serialize(m, &buf, &len, err);
    if (rc) {
        tq_error_prefix(err, "%s: ", path);
        return rc;
    }
    rc = tq_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}
