/* QuantizeLinear, DequantizeLinear (per-tensor and per-axis) and
 * DynamicQuantizeLinear, with ONNX semantics: round half to even, saturate to
 * the output type; the dynamic parameters follow ONNX Runtime exactly
 * (tq_dynamic_qparams). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/ops_common.h"
#include "runtime/ops/qcommon.h"

/* Per-axis geometry: element i uses parameter (i / inner) % n. */
typedef struct axis_geom {
    int64_t n, inner, total;
} axis_geom;

static int read_axis(tq_op_ctx *c, const tq_value *x, const tq_value *param, axis_geom *ag)
{
    ag->total = tq_value_numel(x);
    ag->n = 1;
    ag->inner = ag->total > 0 ? ag->total : 1;
    int64_t len = tq_qparam_len(param);
    if (len < 0)
        return tq_op_fail(c, TQ_EUNSUPPORTED,
                          "'%s' has rank %d; only per-tensor (scalar) and per-axis (1-D) "
                          "parameters are supported",
                          param->name, param->rank);
    if (param->rank == 0 || (len == 1 && c->opset < 13))
        return TQ_OK;
    int axis;
    int rc = tq_axis_norm(c, tq_node_attr_int(c->node, "axis", 1), x->rank, false, &axis);
    if (rc)
        return rc;
    if (x->dims[axis] != len)
        return tq_op_fail(c, TQ_EFORMAT, "'%s' has %lld values but axis %d of '%s' has %lld",
                          param->name, (long long)len, axis, x->name, (long long)x->dims[axis]);
    ag->n = len;
    ag->inner = 1;
    for (int d = axis + 1; d < x->rank; d++)
        ag->inner *= x->dims[d];
    return TQ_OK;
}

static int check_param_pair(tq_op_ctx *c, int si, int zi)
{
    const tq_value *s = c->in[si], *z = zi < c->n_in ? c->in[zi] : NULL;
    if (z && tq_value_numel(z) != tq_value_numel(s))
        return tq_op_fail(c, TQ_EFORMAT, "scale '%s' and zero point '%s' differ in size", s->name,
                          z->name);
    return TQ_OK;
}

/* ---- QuantizeLinear */

static int qlinear_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 2, 3);
    if (rc)
        return rc;
    const tq_value *x = c->in[0], *z = c->n_in > 2 ? c->in[2] : NULL;
    if (x->dtype != TQ_FLOAT && x->dtype != TQ_INT32)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "input '%s' is %s; float32 or int32 expected",
                          x->name, tq_dtype_name(x->dtype));
    tq_dtype out = z ? z->dtype : TQ_UINT8;
    if (!tq_is_q8(out))
        return tq_op_fail(c, TQ_EUNSUPPORTED, "output type %s is not supported (int8/uint8)",
                          tq_dtype_name(out));
    axis_geom ag;
    if ((rc = read_axis(c, x, c->in[1], &ag)) || (rc = check_param_pair(c, 1, 2)))
        return rc;
    tq_value_set_shape(c->out[0], out, x->rank, x->dims);
    return TQ_OK;
}

static int qlinear_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    axis_geom ag;
    int rc = read_axis(c, x, c->in[1], &ag);
    if (rc)
        return rc;
    const tq_qdsp *d = tq_qdsp_get();
    bool is_signed = c->out[0]->dtype == TQ_INT8;
    uint8_t *y = c->out[0]->data;
    const tq_value *z = c->n_in > 2 ? c->in[2] : NULL;
    const float *sc = c->in[1]->data;
    for (int64_t base = 0, blk = 0; base < ag.total; base += ag.inner, blk++) {
        int64_t ch = blk % ag.n;
        int zp = 0;
        if (z)
            zp = is_signed ? ((const int8_t *)z->data)[ch] : ((const uint8_t *)z->data)[ch];
        int64_t cnt = ag.total - base < ag.inner ? ag.total - base : ag.inner;
        if (x->dtype == TQ_FLOAT) {
            d->quantize((const float *)x->data + base, (size_t)cnt, sc[ch], zp, is_signed,
                        y + base);
        } else {
            /* int32 input: divide in float like ONNX Runtime */
            for (int64_t i = 0; i < cnt; i++) {
                float v = (float)((const int32_t *)x->data)[base + i];
                tq_quantize_f32_c(&v, 1, sc[ch], zp, is_signed, y + base + i);
            }
        }
    }
    return TQ_OK;
}

/* ---- DequantizeLinear */

static int dqlinear_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 2, 3);
    if (rc)
        return rc;
    const tq_value *x = c->in[0], *z = c->n_in > 2 ? c->in[2] : NULL;
    if (!tq_is_q8(x->dtype) && x->dtype != TQ_INT32)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "input '%s' is %s; int8, uint8 or int32 expected",
                          x->name, tq_dtype_name(x->dtype));
    if (z && z->dtype != x->dtype)
        return tq_op_fail(c, TQ_EFORMAT, "zero point '%s' (%s) must have the input's type %s",
                          z->name, tq_dtype_name(z->dtype), tq_dtype_name(x->dtype));
    if (c->in[1]->dtype != TQ_FLOAT)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "scale '%s' is %s; float32 expected",
                          c->in[1]->name, tq_dtype_name(c->in[1]->dtype));
    axis_geom ag;
    if ((rc = read_axis(c, x, c->in[1], &ag)) || (rc = check_param_pair(c, 1, 2)))
        return rc;
    tq_value_set_shape(c->out[0], TQ_FLOAT, x->rank, x->dims);
    return TQ_OK;
}

static int dqlinear_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    axis_geom ag;
    int rc = read_axis(c, x, c->in[1], &ag);
    if (rc)
        return rc;
    const tq_value *z = c->n_in > 2 ? c->in[2] : NULL;
    const float *sc = c->in[1]->data;
    float *y = c->out[0]->data;
    for (int64_t base = 0, blk = 0; base < ag.total; base += ag.inner, blk++) {
        int64_t ch = blk % ag.n;
        int64_t cnt = ag.total - base < ag.inner ? ag.total - base : ag.inner;
        float s = sc[ch];
        switch (x->dtype) {
        case TQ_UINT8: {
            int32_t zp = z ? ((const uint8_t *)z->data)[ch] : 0;
            const uint8_t *xs = (const uint8_t *)x->data + base;
            for (int64_t i = 0; i < cnt; i++)
                y[base + i] = (float)((int32_t)xs[i] - zp) * s;
            break;
        }
        case TQ_INT8: {
            int32_t zp = z ? ((const int8_t *)z->data)[ch] : 0;
            const int8_t *xs = (const int8_t *)x->data + base;
            for (int64_t i = 0; i < cnt; i++)
                y[base + i] = (float)((int32_t)xs[i] - zp) * s;
            break;
        }
        default: {
            /* int32: subtract in 64 bits so no zero point can overflow */
            int64_t zp = z ? ((const int32_t *)z->data)[ch] : 0;
            const int32_t *xs = (const int32_t *)x->data + base;
            for (int64_t i = 0; i < cnt; i++)
                y[base + i] = (float)((int64_t)xs[i] - zp) * s;
            break;
        }
        }
    }
    return TQ_OK;
}

/* ---- DynamicQuantizeLinear */

static int dynq_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 1, 1);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    if (x->dtype != TQ_FLOAT)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "input '%s' is %s; float32 expected", x->name,
                          tq_dtype_name(x->dtype));
    tq_value_set_shape(c->out[0], TQ_UINT8, x->rank, x->dims);
    if (c->n_out > 1 && c->out[1])
        tq_value_set_shape(c->out[1], TQ_FLOAT, 0, NULL);
    if (c->n_out > 2 && c->out[2])
        tq_value_set_shape(c->out[2], TQ_UINT8, 0, NULL);
    return TQ_OK;
}

void tq_dynamic_quantize(const tq_qdsp *d, const float *x, size_t n, uint8_t *q, float *scale,
                         int *zp)
{
    float mn = 0.0f, mx = 0.0f;
    if (n)
        d->minmax(x, n, &mn, &mx);
    tq_dynamic_quantize_range(d, x, n, mn, mx, q, scale, zp);
}

void tq_dynamic_quantize_range(const tq_qdsp *d, const float *x, size_t n, float mn, float mx,
                               uint8_t *q, float *scale, int *zp)
{
    tq_dynamic_qparams(mn, mx, scale, zp);
    d->quantize(x, n, *scale, *zp, 0, q);
}

static int dynq_eval(tq_op_ctx *c)
{
    const tq_value *x = c->in[0];
    float scale;
    int zp;
    tq_dynamic_quantize(tq_qdsp_get(), x->data, (size_t)tq_value_numel(x), c->out[0]->data,
                        &scale, &zp);
    if (c->n_out > 1 && c->out[1])
        *(float *)c->out[1]->data = scale;
    if (c->n_out > 2 && c->out[2])
        *(uint8_t *)c->out[2]->data = (uint8_t)zp;
    return TQ_OK;
}

const tq_op_def tq_op_quantize_linear = { "", "QuantizeLinear", qlinear_prepare, qlinear_eval,
                                          NULL };
const tq_op_def tq_op_dequantize_linear = { "", "DequantizeLinear", dqlinear_prepare,
                                            dqlinear_eval, NULL };
const tq_op_def tq_op_dynamic_quantize_linear = { "", "DynamicQuantizeLinear", dynq_prepare,
                                                  dynq_eval, NULL };
