/* Activations: Relu, LeakyRelu, Sigmoid, Tanh, Clip (attribute form before
 * opset 11, optional min/max inputs from 11) and Softmax (one axis from
 * opset 13; before 13 the input is coerced to 2-D at axis). */
#include <float.h>
#include <math.h>

#include "runtime/ops/ops_common.h"

static void relu_f32(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void leaky_relu_f32(const float *x, float *y, int64_t n, const float *p)
{
    float alpha = p[0];
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
}

static void sigmoid_f32(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

static void tanh_f32(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

static int relu_eval(tq_op_ctx *c) { return tq_unary_float_eval(c, relu_f32, NULL); }
static int sigmoid_eval(tq_op_ctx *c) { return tq_unary_float_eval(c, sigmoid_f32, NULL); }
static int tanh_eval(tq_op_ctx *c) { return tq_unary_float_eval(c, tanh_f32, NULL); }
static int leaky_relu_eval(tq_op_ctx *c)
{
    float alpha = tq_node_attr_float(c->node, "alpha", 0.01f);
    return tq_unary_float_eval(c, leaky_relu_f32, &alpha);
}

static const tq_op_def relu_def = { "", "Relu", tq_unary_float_prepare, relu_eval, NULL };
static const tq_op_def leaky_relu_def = { "", "LeakyRelu", tq_unary_float_prepare,
                                          leaky_relu_eval, NULL };
static const tq_op_def sigmoid_def = { "", "Sigmoid", tq_unary_float_prepare, sigmoid_eval,
                                       NULL };
static const tq_op_def tanh_def = { "", "Tanh", tq_unary_float_prepare, tanh_eval, NULL };

/* ---- Clip */

static int clip_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, c->opset < 11 ? 1 : 3);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    if (!tq_dtype_is_numeric(x->dtype))
        return tq_op_fail(c, TQ_EUNSUPPORTED, "input '%s' has unsupported type %s", x->name,
                          tq_dtype_name(x->dtype));
    for (int i = 1; i < c->n_in; i++) {
        const tq_value *b = c->in[i];
        if (!b)
            continue;
        if (b->dtype != x->dtype)
            return tq_op_fail(c, TQ_EFORMAT, "bound '%s' is %s, input is %s", b->name,
                              tq_dtype_name(b->dtype), tq_dtype_name(x->dtype));
        if (tq_value_numel(b) != 1)
            return tq_op_fail(c, TQ_EFORMAT, "bound '%s' must be a scalar, has %lld values",
                              b->name, (long long)tq_value_numel(b));
    }
    tq_value_set_shape(c->out[0], x->dtype, x->rank, x->dims);
    return TQ_OK;
}

/* NaN passes through the comparisons unchanged (numpy.clip behaviour);
 * min > max yields max everywhere, as ONNX specifies. */
#define CLIP_CASE(DT, T, LO, HI)                                                           \
    case DT: {                                                                             \
        T lo = lo_v ? *(const T *)lo_v->data : (LO);                                       \
        T hi = hi_v ? *(const T *)hi_v->data : (HI);                                       \
        const T *a = x->data;                                                              \
        T *b = y->data;                                                                    \
        for (int64_t i = 0; i < n; i++) {                                                  \
            T v = a[i];                                                                    \
            v = v < lo ? lo : v;                                                           \
            b[i] = v > hi ? hi : v;                                                        \
        }                                                                                  \
        return TQ_OK;                                                                      \
    }

static int clip_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    int64_t n = tq_value_numel(x);
    const tq_value *lo_v = c->n_in > 1 ? c->in[1] : NULL;
    const tq_value *hi_v = c->n_in > 2 ? c->in[2] : NULL;
    if (c->opset < 11) {
        float lo = tq_node_attr_float(c->node, "min", -FLT_MAX);
        float hi = tq_node_attr_float(c->node, "max", FLT_MAX);
        for (int64_t i = 0; i < n; i++) {
            double v = tq_load_f64(x->dtype, x->data, i);
            v = v < lo ? lo : v;
            tq_store_f64(x->dtype, y->data, i, v > hi ? hi : v);
        }
        return TQ_OK;
    }
    switch (x->dtype) {
    CLIP_CASE(TQ_FLOAT, float, -INFINITY, INFINITY)
    CLIP_CASE(TQ_DOUBLE, double, -INFINITY, INFINITY)
    CLIP_CASE(TQ_INT8, int8_t, INT8_MIN, INT8_MAX)
    CLIP_CASE(TQ_UINT8, uint8_t, 0, UINT8_MAX)
    CLIP_CASE(TQ_INT16, int16_t, INT16_MIN, INT16_MAX)
    CLIP_CASE(TQ_UINT16, uint16_t, 0, UINT16_MAX)
    CLIP_CASE(TQ_INT32, int32_t, INT32_MIN, INT32_MAX)
    CLIP_CASE(TQ_UINT32, uint32_t, 0, UINT32_MAX)
    CLIP_CASE(TQ_INT64, int64_t, INT64_MIN, INT64_MAX)
    CLIP_CASE(TQ_UINT64, uint64_t, 0, UINT64_MAX)
    case TQ_FLOAT16: {
        float lo = lo_v ? tq_half_to_float(*(const uint16_t *)lo_v->data) : -INFINITY;
        float hi = hi_v ? tq_half_to_float(*(const uint16_t *)hi_v->data) : INFINITY;
        const uint16_t *a = x->data;
        uint16_t *b = y->data;
        for (int64_t i = 0; i < n; i++) {
            float v = tq_half_to_float(a[i]);
            v = v < lo ? lo : v;
            b[i] = tq_float_to_half(v > hi ? hi : v);
        }
        return TQ_OK;
    }
    default:
        return tq_op_fail(c, TQ_EUNSUPPORTED, "unsupported type %s", tq_dtype_name(x->dtype));
    }
}

static const tq_op_def clip_def = { "", "Clip", clip_prepare, clip_eval, NULL };

/* ---- Softmax: viewed as [outer, len, inner], normalised along len. */

typedef struct softmax_geom {
    int64_t outer, len, inner;
} softmax_geom;

static int softmax_geometry(tq_op_ctx *c, softmax_geom *g)
{
    const tq_value *x = c->in[0];
    bool coerce_2d = c->opset < 13;
    int axis;
    int rc = tq_axis_norm(c, tq_node_attr_int(c->node, "axis", coerce_2d ? 1 : -1),
                          x->rank, coerce_2d, &axis);
    if (rc)
        return rc;
    g->outer = tq_shape_numel(x->dims, axis);
    if (coerce_2d) {
        g->len = tq_shape_numel(x->dims + axis, x->rank - axis);
        g->inner = 1;
    } else {
        g->len = x->dims[axis];
        g->inner = tq_shape_numel(x->dims + axis + 1, x->rank - axis - 1);
    }
    return TQ_OK;
}

static int softmax_prepare(tq_op_ctx *c)
{
    int rc = tq_unary_float_prepare(c);
    if (rc)
        return rc;
    softmax_geom g;
    rc = softmax_geometry(c, &g);
    if (rc)
        return rc;
    c->scratch_bytes = (size_t)g.len * sizeof(float);
    return TQ_OK;
}

static void softmax_row(float *v, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = v[i] > mx ? v[i] : mx;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        v[i] = expf(v[i] - mx);
        sum += v[i];
    }
    for (int64_t i = 0; i < n; i++)
        v[i] /= sum;
}

static int softmax_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    softmax_geom g;
    int rc = softmax_geometry(c, &g);
    if (rc)
        return rc;
    float *row = c->scratch;
    bool half = x->dtype == TQ_FLOAT16;
    for (int64_t o = 0; o < g.outer; o++) {
        for (int64_t in = 0; in < g.inner; in++) {
            int64_t base = o * g.len * g.inner + in;
            for (int64_t k = 0; k < g.len; k++) {
                int64_t at = base + k * g.inner;
                row[k] = half ? tq_half_to_float(((const uint16_t *)x->data)[at])
                              : ((const float *)x->data)[at];
            }
            softmax_row(row, g.len);
            for (int64_t k = 0; k < g.len; k++) {
                int64_t at = base + k * g.inner;
                if (half)
                    ((uint16_t *)y->data)[at] = tq_float_to_half(row[k]);
                else
                    ((float *)y->data)[at] = row[k];
            }
        }
    }
    return TQ_OK;
}

static const tq_op_def softmax_def = { "", "Softmax", softmax_prepare, softmax_eval, NULL };

const tq_op_def *const tq_ops_activation[] = {
    &relu_def, &leaky_relu_def, &sigmoid_def, &tanh_def, &clip_def, &softmax_def, NULL,
};
