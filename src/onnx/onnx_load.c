/* ONNX ModelProto (protobuf-c) -> IR: tq_model_load / tq_model_load_buffer. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "onnx/onnx_proto.h"
#include "util/error.h"
#include "util/fileio.h"

typedef struct load_ctx {
    const char *where; /* model file name for messages */
    tq_external_ctx ext;
    tq_error *err;
} load_ctx;

static int oom(load_ctx *c)
{
    return tq_fail(c->err, TQ_ENOMEM, "%s: out of memory while loading", c->where);
}

/* Copy an optional proto string; absent strings become "" so callers can strcmp. */
static int dup_into(load_ctx *c, char **dst, const char *src)
{
    *dst = strdup(src ? src : "");
    return *dst ? TQ_OK : oom(c);
}

/* Like dup_into but keeps absence as NULL (doc strings, producer fields). */
static int dup_opt(load_ctx *c, char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return TQ_OK;
    *dst = strdup(src);
    return *dst ? TQ_OK : oom(c);
}

/* Zeroed array for a repeated field; counts must fit the IR's int. */
static int alloc_array(load_ctx *c, void **dst, size_t n, size_t elem, const char *what)
{
    *dst = NULL;
    if (n == 0)
        return TQ_OK;
    if (n > INT_MAX)
        return tq_fail(c->err, TQ_EFORMAT, "%s: too many %s (%zu)", c->where, what, n);
    *dst = calloc(n, elem);
    return *dst ? TQ_OK : oom(c);
}

static int load_value_info(load_ctx *c, const Onnx__ValueInfoProto *vp, tq_value_info *v,
                           const char *kind)
{
    int rc = dup_into(c, &v->name, vp->name);
    if (rc)
        return rc;
    v->dtype = TQ_UNDEFINED;
    v->rank = -1;
    /* Sequence/map/optional types carry no tensor shape: left undefined. */
    if (!vp->type || vp->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vp->type->tensor_type)
        return TQ_OK;
    const Onnx__TypeProto__Tensor *tt = vp->type->tensor_type;
    v->dtype = tt->has_elem_type ? (tq_dtype)tt->elem_type : TQ_UNDEFINED;
    if (!tt->shape)
        return TQ_OK;
    if (tt->shape->n_dim > TQ_MAX_RANK)
        return tq_fail(c->err, TQ_EUNSUPPORTED, "%s: %s '%s' has rank %zu; tinyq supports at "
                       "most rank %d", c->where, kind, v->name, tt->shape->n_dim, TQ_MAX_RANK);
    v->rank = (int)tt->shape->n_dim;
    for (int i = 0; i < v->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        v->dims[i] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            d->dim_value >= 0) {
            v->dims[i] = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
            rc = dup_opt(c, &v->dim_params[i], d->dim_param);
            if (rc)
                return rc;
        }
    }
    return TQ_OK;
}

static int load_value_infos(load_ctx *c, Onnx__ValueInfoProto **src, size_t n,
                            tq_value_info **dst, int *count, const char *kind)
{
    int rc = alloc_array(c, (void **)dst, n, sizeof **dst, kind);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        (*count)++; /* counted first so a partial entry is freed with the model */
        rc = load_value_info(c, src[i], &(*dst)[i], kind);
        if (rc)
            return rc;
    }
    return TQ_OK;
}

/* Old IR versions may omit AttributeProto.type; infer it from the set field. */
static int attr_type_of(const Onnx__AttributeProto *ap)
{
    if (ap->has_type)
        return (int)ap->type;
    if (ap->t) return TQ_ATTR_TENSOR;
    if (ap->g) return TQ_ATTR_GRAPH;
    if (ap->n_floats) return TQ_ATTR_FLOATS;
    if (ap->n_ints) return TQ_ATTR_INTS;
    if (ap->n_strings) return TQ_ATTR_STRINGS;
    if (ap->has_s) return TQ_ATTR_STRING;
    if (ap->has_i) return TQ_ATTR_INT;
    if (ap->has_f) return TQ_ATTR_FLOAT;
    return TQ_ATTR_UNDEFINED;
}

static char *dup_bytes(ProtobufCBinaryData b)
{
    char *s = malloc(b.len + 1);
    if (s) {
        if (b.len)
            memcpy(s, b.data, b.len);
        s[b.len] = '\0';
    }
    return s;
}

static int load_attr(load_ctx *c, const Onnx__AttributeProto *ap, tq_attr *a,
                     const char *node_name)
{
    int rc = dup_into(c, &a->name, ap->name);
    if (rc)
        return rc;
    int type = attr_type_of(ap);
    switch (type) {
    case TQ_ATTR_FLOAT:
        a->f = ap->f;
        break;
    case TQ_ATTR_INT:
        a->i = ap->i;
        break;
    case TQ_ATTR_STRING:
        if (!(a->s = dup_bytes(ap->s)))
            return oom(c);
        break;
    case TQ_ATTR_TENSOR: {
        if (!ap->t)
            return tq_fail(c->err, TQ_EFORMAT, "%s: node '%s': tensor attribute '%s' has no "
                           "tensor", c->where, node_name, a->name);
        if (!(a->t = calloc(1, sizeof *a->t)))
            return oom(c);
        char what[256];
        snprintf(what, sizeof what, "node '%s' attribute '%s' tensor", node_name, a->name);
        rc = tq_onnx_decode_tensor(ap->t, c->where, what, &c->ext, a->t, NULL, c->err);
        if (rc)
            return rc;
        break;
    }
    case TQ_ATTR_GRAPH:
        break; /* recorded by type only: tinyq never executes subgraphs */
    case TQ_ATTR_FLOATS:
        if ((rc = alloc_array(c, (void **)&a->floats, ap->n_floats, sizeof(float), "floats")))
            return rc;
        if (ap->n_floats)
            memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
        a->n = (int)ap->n_floats;
        break;
    case TQ_ATTR_INTS:
        if ((rc = alloc_array(c, (void **)&a->ints, ap->n_ints, sizeof(int64_t), "ints")))
            return rc;
        if (ap->n_ints)
            memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
        a->n = (int)ap->n_ints;
        break;
    case TQ_ATTR_STRINGS:
        if ((rc = alloc_array(c, (void **)&a->strings, ap->n_strings, sizeof(char *),
                              "strings")))
            return rc;
        for (size_t i = 0; i < ap->n_strings; i++) {
            a->n++;
            if (!(a->strings[i] = dup_bytes(ap->strings[i])))
                return oom(c);
        }
        break;
    default:
        return tq_fail(c->err, TQ_EUNSUPPORTED, "%s: node '%s': attribute '%s' has type %d "
                       "(tensors/graphs lists, sparse tensors and type protos are not "
                       "supported)", c->where, node_name, a->name, type);
    }
    a->type = (tq_attr_type)type;
    return TQ_OK;
}

static int load_names(load_ctx *c, char **src, size_t n, char ***dst, int *count)
{
    int rc = alloc_array(c, (void **)dst, n, sizeof(char *), "node inputs/outputs");
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        (*count)++;
        if ((rc = dup_into(c, &(*dst)[i], src[i])))
            return rc;
    }
    return TQ_OK;
}

static int load_node(load_ctx *c, const Onnx__NodeProto *np, tq_node *n, size_t index)
{
    int rc;
    if ((rc = dup_into(c, &n->name, np->name)) || (rc = dup_into(c, &n->op_type, np->op_type)) ||
        (rc = dup_into(c, &n->domain, np->domain)))
        return rc;
    char label[64];
    const char *node_name = n->name;
    if (!node_name[0]) {
        snprintf(label, sizeof label, "#%zu", index);
        node_name = label;
    }
    if (!n->op_type[0])
        return tq_fail(c->err, TQ_EFORMAT, "%s: node '%s' has no op_type", c->where, node_name);
    if ((rc = load_names(c, np->input, np->n_input, &n->inputs, &n->n_inputs)) ||
        (rc = load_names(c, np->output, np->n_output, &n->outputs, &n->n_outputs)))
        return rc;
    if ((rc = alloc_array(c, (void **)&n->attrs, np->n_attribute, sizeof(tq_attr), "attributes")))
        return rc;
    for (size_t i = 0; i < np->n_attribute; i++) {
        n->n_attrs++;
        if ((rc = load_attr(c, np->attribute[i], &n->attrs[i], node_name)))
            return rc;
    }
    return TQ_OK;
}

static int load_graph(load_ctx *c, const Onnx__GraphProto *gp, tq_model *m)
{
    tq_graph *g = &m->graph;
    int rc = dup_into(c, &g->name, gp->name);
    if (rc)
        return rc;
    if ((rc = alloc_array(c, (void **)&g->nodes, gp->n_node, sizeof(tq_node), "nodes")))
        return rc;
    for (size_t i = 0; i < gp->n_node; i++) {
        g->n_nodes++;
        if ((rc = load_node(c, gp->node[i], &g->nodes[i], i)))
            return rc;
    }
    if ((rc = alloc_array(c, (void **)&g->initializers, gp->n_initializer, sizeof(tq_tensor),
                          "initializers")))
        return rc;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        int external = 0;
        size_t before = c->ext.bytes_read;
        if (!gp->initializer[i]->name || !gp->initializer[i]->name[0])
            return tq_fail(c->err, TQ_EFORMAT, "%s: initializer #%zu has no name", c->where, i);
        rc = tq_onnx_decode_tensor(gp->initializer[i], c->where, "initializer", &c->ext,
                                   &g->initializers[i], &external, c->err);
        if (rc)
            return rc;
        g->n_initializers++;
        if (external) {
            m->n_external_tensors++;
            m->external_bytes += c->ext.bytes_read - before;
        }
    }
    if (gp->n_sparse_initializer)
        return tq_fail(c->err, TQ_EUNSUPPORTED, "%s: sparse initializers are not supported",
                       c->where);
    if ((rc = load_value_infos(c, gp->input, gp->n_input, &g->inputs, &g->n_inputs,
                               "graph input")) ||
        (rc = load_value_infos(c, gp->output, gp->n_output, &g->outputs, &g->n_outputs,
                               "graph output")) ||
        (rc = load_value_infos(c, gp->value_info, gp->n_value_info, &g->value_info,
                               &g->n_value_info, "value_info")))
        return rc;
    return TQ_OK;
}

static int load_model(load_ctx *c, const Onnx__ModelProto *mp, tq_model *m)
{
    if (!mp->graph)
        return tq_fail(c->err, TQ_EFORMAT, "%s: not a valid ONNX model (it has no graph)",
                       c->where);
    m->ir_version = mp->ir_version;
    m->model_version = mp->model_version;
    int rc;
    if ((rc = dup_opt(c, &m->producer_name, mp->producer_name)) ||
        (rc = dup_opt(c, &m->producer_version, mp->producer_version)) ||
        (rc = dup_opt(c, &m->domain, mp->domain)) ||
        (rc = dup_opt(c, &m->doc_string, mp->doc_string)))
        return rc;
    if ((rc = alloc_array(c, (void **)&m->opsets, mp->n_opset_import, sizeof(tq_opset),
                          "opset imports")))
        return rc;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        m->n_opsets++;
        m->opsets[i].version = mp->opset_import[i]->version;
        if ((rc = dup_into(c, &m->opsets[i].domain, mp->opset_import[i]->domain)))
            return rc;
    }
    if ((rc = alloc_array(c, (void **)&m->meta, mp->n_metadata_props, sizeof(tq_meta_prop),
                          "metadata entries")))
        return rc;
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        m->n_meta++;
        if ((rc = dup_into(c, &m->meta[i].key, mp->metadata_props[i]->key)) ||
            (rc = dup_into(c, &m->meta[i].value, mp->metadata_props[i]->value)))
            return rc;
    }
    return load_graph(c, mp->graph, m);
}

TQ_API int tq_model_load_buffer(tq_model **out, const void *buf, size_t len, const char *name,
                                const char *base_dir, tq_error *err)
{
    if (!out)
        return tq_fail(err, TQ_EINVAL, "tq_model_load_buffer: out is NULL");
    *out = NULL;
    if (!name)
        name = "<memory>";
    if (!buf && len)
        return tq_fail(err, TQ_EINVAL, "%s: buffer is NULL", name);
    int nest = tq_onnx_check_nesting(&onnx__model_proto__descriptor, buf, len,
                                     TQ_ONNX_MAX_NESTING);
    if (nest == -2)
        return tq_fail(err, TQ_EFORMAT, "%s: not a valid ONNX model (messages nest deeper "
                       "than %d levels)", name, TQ_ONNX_MAX_NESTING);
    Onnx__ModelProto *mp = nest ? NULL : onnx__model_proto__unpack(NULL, len, buf);
    if (!mp)
        return tq_fail(err, TQ_EFORMAT, "%s: not a valid ONNX model (protobuf parse failed)",
                       name);
    load_ctx c = {.where = name, .err = err};
    tq_model *m = tq_model_new();
    int rc = m ? TQ_OK : oom(&c);
    if (!rc)
        rc = tq_external_init(&c.ext, name, base_dir, err);
    if (!rc)
        rc = load_model(&c, mp, m);
    if (!rc) {
        m->file_bytes = len;
        if (!(m->path = strdup(name)))
            rc = oom(&c);
    }
    tq_external_close(&c.ext);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (rc) {
        tq_model_free(&m);
        return rc;
    }
    *out = m;
    return TQ_OK;
}

TQ_API int tq_model_load(tq_model **out, const char *path, tq_error *err)
{
    if (!out || !path)
        return tq_fail(err, TQ_EINVAL, "tq_model_load: NULL argument");
    *out = NULL;
    uint8_t *buf;
    size_t len;
    int rc = tq_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    char *dir = tq_path_dirname(path);
    if (!dir) {
        free(buf);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
    }
    rc = tq_model_load_buffer(out, buf, len, path, dir, err);
    free(dir);
    free(buf);
    return rc;
}
