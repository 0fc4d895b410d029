/* The in-memory graph (IR) every layer shares: filled by onnx/, rewritten by
 * graph passes and quant/, executed by runtime/, written back by onnx/.
 *
 * Ownership: a tq_model owns everything reachable from it (all strings and
 * buffers are malloc'ed and freed by tq_model_free). Names are the ONNX value
 * names; an empty string "" marks an omitted optional input. */
#ifndef TQ_GRAPH_IR_H
#define TQ_GRAPH_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinyq/tinyq.h"

/* A dense tensor with owned data (initializers, constants, attribute tensors). */
typedef struct tq_tensor {
    char *name;
    tq_dtype dtype;
    int rank;
    int64_t dims[TQ_MAX_RANK];
    void *data;    /* row-major, nbytes long; NULL only when nbytes == 0 */
    size_t nbytes;
} tq_tensor;

typedef enum tq_attr_type {
    TQ_ATTR_UNDEFINED = 0,
    TQ_ATTR_FLOAT = 1,
    TQ_ATTR_INT = 2,
    TQ_ATTR_STRING = 3,
    TQ_ATTR_TENSOR = 4,
    TQ_ATTR_GRAPH = 5, /* kept only so we can report it; never executed */
    TQ_ATTR_FLOATS = 6,
    TQ_ATTR_INTS = 7,
    TQ_ATTR_STRINGS = 8,
} tq_attr_type; /* numeric values equal ONNX AttributeProto.AttributeType */

typedef struct tq_attr {
    char *name;
    tq_attr_type type;
    float f;
    int64_t i;
    char *s;        /* NUL-terminated copy (ONNX strings are bytes) */
    tq_tensor *t;
    float *floats;
    int64_t *ints;
    char **strings;
    int n;          /* element count of floats/ints/strings */
} tq_attr;

typedef struct tq_node {
    char *name;
    char *op_type;
    char *domain;   /* "" for the default ai.onnx domain */
    char **inputs;
    int n_inputs;
    char **outputs;
    int n_outputs;
    tq_attr *attrs;
    int n_attrs;
} tq_node;

/* Type and shape record of a graph input/output/value_info entry.
 * A dim is either a value (>= 0) or symbolic (dims[i] = -1, dim_params[i]
 * = name or NULL when unknown). rank = -1 when the shape is absent. */
typedef struct tq_value_info {
    char *name;
    tq_dtype dtype;
    int rank;
    int64_t dims[TQ_MAX_RANK];
    char *dim_params[TQ_MAX_RANK];
} tq_value_info;

typedef struct tq_opset {
    char *domain;   /* "" = ai.onnx */
    int64_t version;
} tq_opset;

typedef struct tq_graph {
    char *name;
    tq_node *nodes;
    int n_nodes;
    tq_tensor *initializers;
    int n_initializers;
    tq_value_info *inputs;   /* may include initializer names (old IR versions) */
    int n_inputs;
    tq_value_info *outputs;
    int n_outputs;
    tq_value_info *value_info;
    int n_value_info;
} tq_graph;

typedef struct tq_meta_prop {
    char *key;
    char *value;
} tq_meta_prop;

struct tq_model {
    int64_t ir_version;
    tq_opset *opsets;
    int n_opsets;
    char *producer_name;
    char *producer_version;
    char *domain;
    int64_t model_version;
    char *doc_string;
    tq_meta_prop *meta;
    int n_meta;
    tq_graph graph;

    /* Provenance, not part of the ONNX content. */
    char *path;                 /* file it was loaded from (for messages) */
    size_t file_bytes;          /* size of the .onnx file */
    size_t external_bytes;      /* bytes read from external-data files */
    int n_external_tensors;     /* initializers that came from external data */
};

/* --- construction helpers (all return NULL / negative on allocation failure) */
tq_model *tq_model_new(void);
void tq_graph_clear(tq_graph *g);
void tq_tensor_clear(tq_tensor *t);
void tq_node_clear(tq_node *n);
void tq_attr_clear(tq_attr *a);
void tq_value_info_clear(tq_value_info *v);
int tq_tensor_copy(tq_tensor *dst, const tq_tensor *src);

/* Number of elements of a tensor shape; returns -1 on overflow or negative dims. */
int64_t tq_shape_numel(const int64_t *dims, int rank);
int64_t tq_tensor_numel(const tq_tensor *t);

/* --- lookups (linear; graphs are tiny) */
const tq_tensor *tq_graph_find_initializer(const tq_graph *g, const char *name);
int tq_graph_initializer_index(const tq_graph *g, const char *name);
const tq_attr *tq_node_attr(const tq_node *n, const char *name);
int64_t tq_node_attr_int(const tq_node *n, const char *name, int64_t dflt);
float tq_node_attr_float(const tq_node *n, const char *name, float dflt);
const char *tq_node_attr_string(const tq_node *n, const char *name, const char *dflt);
/* Opset version of the default domain (ai.onnx), or 0 when absent. */
int64_t tq_model_opset(const tq_model *m);

/* --- edits used by passes and the quantiser */
tq_node *tq_graph_add_node(tq_graph *g, const char *op_type, const char *name);
int tq_node_add_input(tq_node *n, const char *name);
int tq_node_add_output(tq_node *n, const char *name);
tq_attr *tq_node_add_attr(tq_node *n, const char *name, tq_attr_type type);
tq_tensor *tq_graph_add_initializer(tq_graph *g, const char *name, tq_dtype dtype,
                                    int rank, const int64_t *dims, const void *data);

/* Float16 conversion (IEEE half, round-to-nearest-even). */
float tq_half_to_float(uint16_t h);
uint16_t tq_float_to_half(float f);

#endif
