/* IR construction, destruction and lookups. */
#define _POSIX_C_SOURCE 200809L
#include "graph/ir.h"

#include <stdlib.h>
#include <string.h>

tq_model *tq_model_new(void)
{
    return calloc(1, sizeof(tq_model));
}

void tq_tensor_clear(tq_tensor *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

void tq_attr_clear(tq_attr *a)
{
    free(a->name);
    free(a->s);
    if (a->t) {
        tq_tensor_clear(a->t);
        free(a->t);
    }
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (int i = 0; i < a->n; i++)
            free(a->strings[i]);
    free(a->strings);
    memset(a, 0, sizeof *a);
}

void tq_node_clear(tq_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    for (int i = 0; i < n->n_inputs; i++)
        free(n->inputs[i]);
    free(n->inputs);
    for (int i = 0; i < n->n_outputs; i++)
        free(n->outputs[i]);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++)
        tq_attr_clear(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

void tq_value_info_clear(tq_value_info *v)
{
    free(v->name);
    for (int i = 0; i < TQ_MAX_RANK; i++)
        free(v->dim_params[i]);
    memset(v, 0, sizeof *v);
}

void tq_graph_clear(tq_graph *g)
{
    free(g->name);
    for (int i = 0; i < g->n_nodes; i++)
        tq_node_clear(&g->nodes[i]);
    free(g->nodes);
    for (int i = 0; i < g->n_initializers; i++)
        tq_tensor_clear(&g->initializers[i]);
    free(g->initializers);
    for (int i = 0; i < g->n_inputs; i++)
        tq_value_info_clear(&g->inputs[i]);
    free(g->inputs);
    for (int i = 0; i < g->n_outputs; i++)
        tq_value_info_clear(&g->outputs[i]);
    free(g->outputs);
    for (int i = 0; i < g->n_value_info; i++)
        tq_value_info_clear(&g->value_info[i]);
    free(g->value_info);
    memset(g, 0, sizeof *g);
}

void tq_model_free(tq_model **pm)
{
    if (!pm || !*pm)
        return;
    tq_model *m = *pm;
    for (int i = 0; i < m->n_opsets; i++)
        free(m->opsets[i].domain);
    free(m->opsets);
    free(m->producer_name);
    free(m->producer_version);
    free(m->domain);
    free(m->doc_string);
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta[i].key);
        free(m->meta[i].value);
    }
    free(m->meta);
    tq_graph_clear(&m->graph);
    free(m->path);
    free(m);
    *pm = NULL;
}

int64_t tq_shape_numel(const int64_t *dims, int rank)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        /* an overflow check without a 64-bit division: every op's eval
         * sizes its tensors this way, many times per run */
        if (dims[i] < 0 || __builtin_mul_overflow(n, dims[i], &n))
            return -1;
    }
    return n;
}

int64_t tq_tensor_numel(const tq_tensor *t)
{
    return tq_shape_numel(t->dims, t->rank);
}

int tq_tensor_copy(tq_tensor *dst, const tq_tensor *src)
{
    *dst = *src;
    dst->name = src->name ? strdup(src->name) : NULL;
    dst->data = NULL;
    if (src->nbytes) {
        dst->data = malloc(src->nbytes);
        if (dst->data)
            memcpy(dst->data, src->data, src->nbytes);
    }
    if ((src->name && !dst->name) || (src->nbytes && !dst->data)) {
        tq_tensor_clear(dst);
        return TQ_ENOMEM;
    }
    return TQ_OK;
}

int tq_graph_initializer_index(const tq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_initializers; i++)
        if (strcmp(g->initializers[i].name, name) == 0)
            return i;
    return -1;
}

const tq_tensor *tq_graph_find_initializer(const tq_graph *g, const char *name)
{
    int i = tq_graph_initializer_index(g, name);
    return i < 0 ? NULL : &g->initializers[i];
}

const tq_attr *tq_node_attr(const tq_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t tq_node_attr_int(const tq_node *n, const char *name, int64_t dflt)
{
    const tq_attr *a = tq_node_attr(n, name);
    return a && a->type == TQ_ATTR_INT ? a->i : dflt;
}

float tq_node_attr_float(const tq_node *n, const char *name, float dflt)
{
    const tq_attr *a = tq_node_attr(n, name);
    return a && a->type == TQ_ATTR_FLOAT ? a->f : dflt;
}

const char *tq_node_attr_string(const tq_node *n, const char *name, const char *dflt)
{
    const tq_attr *a = tq_node_attr(n, name);
    return a && a->type == TQ_ATTR_STRING && a->s ? a->s : dflt;
}

int64_t tq_model_opset(const tq_model *m)
{
    for (int i = 0; i < m->n_opsets; i++)
        if (!m->opsets[i].domain || m->opsets[i].domain[0] == '\0' ||
            strcmp(m->opsets[i].domain, "ai.onnx") == 0)
            return m->opsets[i].version;
    return 0;
}

/* Grow an array by one zeroed element; returns the new element or NULL. */
static void *grow(void **arr, int *count, size_t elem)
{
    void *p = realloc(*arr, (size_t)(*count + 1) * elem);
    if (!p)
        return NULL;
    *arr = p;
    void *e = (char *)p + (size_t)*count * elem;
    memset(e, 0, elem);
    (*count)++;
    return e;
}

tq_node *tq_graph_add_node(tq_graph *g, const char *op_type, const char *name)
{
    tq_node *n = grow((void **)&g->nodes, &g->n_nodes, sizeof(tq_node));
    if (!n)
        return NULL;
    n->op_type = strdup(op_type);
    n->name = strdup(name ? name : "");
    n->domain = strdup("");
    if (!n->op_type || !n->name || !n->domain) {
        tq_node_clear(n);
        g->n_nodes--;
        return NULL;
    }
    return n;
}

static int add_name(char ***arr, int *count, const char *name)
{
    char *s = strdup(name);
    if (!s)
        return TQ_ENOMEM;
    char **slot = grow((void **)arr, count, sizeof(char *));
    if (!slot) {
        free(s);
        return TQ_ENOMEM;
    }
    *slot = s;
    return TQ_OK;
}

int tq_node_add_input(tq_node *n, const char *name)
{
    return add_name(&n->inputs, &n->n_inputs, name);
}

int tq_node_add_output(tq_node *n, const char *name)
{
    return add_name(&n->outputs, &n->n_outputs, name);
}

tq_attr *tq_node_add_attr(tq_node *n, const char *name, tq_attr_type type)
{
    char *s = strdup(name);
    if (!s)
        return NULL;
    tq_attr *a = grow((void **)&n->attrs, &n->n_attrs, sizeof(tq_attr));
    if (!a) {
        free(s);
        return NULL;
    }
    a->name = s;
    a->type = type;
    return a;
}

tq_tensor *tq_graph_add_initializer(tq_graph *g, const char *name, tq_dtype dtype,
                                    int rank, const int64_t *dims, const void *data)
{
    if (rank < 0 || rank > TQ_MAX_RANK)
        return NULL;
    /* dims may point into g->initializers (copying another tensor's shape),
     * which the append below can move: keep a copy. */
    int64_t shape[TQ_MAX_RANK];
    for (int i = 0; i < rank; i++)
        shape[i] = dims[i];
    dims = shape;
    int64_t numel = tq_shape_numel(dims, rank);
    size_t esz = tq_dtype_size(dtype);
    if (numel < 0 || esz == 0)
        return NULL;
    size_t nbytes = (size_t)numel * esz;
    void *buf = NULL;
    if (nbytes) {
        buf = malloc(nbytes);
        if (!buf)
            return NULL;
        if (data)
            memcpy(buf, data, nbytes);
        else
            memset(buf, 0, nbytes);
    }
    char *s = strdup(name);
    tq_tensor *t = s ? grow((void **)&g->initializers, &g->n_initializers, sizeof(tq_tensor))
                     : NULL;
    if (!t) {
        free(s);
        free(buf);
        return NULL;
    }
    t->name = s;
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    t->data = buf;
    t->nbytes = nbytes;
    return t;
}

const char *tq_dtype_name(tq_dtype t)
{
    switch (t) {
    case TQ_FLOAT: return "float32";
    case TQ_UINT8: return "uint8";
    case TQ_INT8: return "int8";
    case TQ_UINT16: return "uint16";
    case TQ_INT16: return "int16";
    case TQ_INT32: return "int32";
    case TQ_INT64: return "int64";
    case TQ_STRING: return "string";
    case TQ_BOOL: return "bool";
    case TQ_FLOAT16: return "float16";
    case TQ_DOUBLE: return "float64";
    case TQ_UINT32: return "uint32";
    case TQ_UINT64: return "uint64";
    default: return "undefined";
    }
}

size_t tq_dtype_size(tq_dtype t)
{
    switch (t) {
    case TQ_UINT8: case TQ_INT8: case TQ_BOOL: return 1;
    case TQ_UINT16: case TQ_INT16: case TQ_FLOAT16: return 2;
    case TQ_FLOAT: case TQ_INT32: case TQ_UINT32: return 4;
    case TQ_INT64: case TQ_DOUBLE: case TQ_UINT64: return 8;
    default: return 0;
    }
}

float tq_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t tq_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* result is subnormal or zero */
        if (absx < 0x33000000u)
            return (uint16_t)sign;
        /* value = m * 2^(e-150); half subnormal units are 2^-24 */
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        int s = (int)(126 - e); /* 14..24 */
        uint32_t q = m >> s;
        uint32_t rem = m & ((1u << s) - 1);
        uint32_t halfway = 1u << (s - 1);
        if (rem > halfway || (rem == halfway && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t e = (absx >> 23) - 127 + 15;
    uint32_t m = absx & 0x7fffff;
    uint32_t h = (e << 10) | (m >> 13);
    uint32_t rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* may carry into the exponent, which is the correct result */
    return (uint16_t)(sign | h);
}
