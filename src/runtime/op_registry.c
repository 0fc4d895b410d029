/* Finds an op implementation by (domain, op_type) across the op families. */
#include <string.h>

#include "runtime/op.h"

static const tq_op_def *const *const families[] = {
    tq_ops_elementwise, tq_ops_activation, tq_ops_shape, tq_ops_reduce, tq_ops_resize,
    tq_ops_gemm,        tq_ops_conv,       tq_ops_pool,  tq_ops_norm,   tq_ops_quant,
};

static int same_domain(const char *a, const char *b)
{
    /* "" and "ai.onnx" both name the default domain. */
    if (!a || strcmp(a, "ai.onnx") == 0)
        a = "";
    if (!b || strcmp(b, "ai.onnx") == 0)
        b = "";
    return strcmp(a, b) == 0;
}

const tq_op_def *tq_op_find(const char *domain, const char *op_type)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const tq_op_def *const *d = families[f]; *d; d++)
            if (strcmp((*d)->op_type, op_type) == 0 && same_domain((*d)->domain, domain))
                return *d;
    return NULL;
}
