/* Shared pieces of the integer ops (see qcommon.h). */
#include "runtime/ops/qcommon.h"

#include <math.h>

bool tq_is_q8(tq_dtype t)
{
    return t == TQ_INT8 || t == TQ_UINT8;
}

int64_t tq_qparam_len(const tq_value *v)
{
    if (!v)
        return 1;
    if (v->rank > 1)
        return -1;
    return tq_value_numel(v);
}

static int check_len(tq_op_ctx *c, const tq_value *v, int expect_n)
{
    int64_t n = tq_qparam_len(v);
    if (n != 1 && n != expect_n)
        return tq_op_fail(c, TQ_EFORMAT,
                          "'%s' must be a scalar or a 1-D tensor of %d values (has %lld values, "
                          "rank %d)",
                          v->name, expect_n, (long long)tq_value_numel(v), v->rank);
    return TQ_OK;
}

int tq_qparam_zp(tq_op_ctx *c, int i, int expect_n, int32_t *out)
{
    const tq_value *v = i < c->n_in ? c->in[i] : NULL;
    if (!v) {
        for (int k = 0; k < expect_n; k++)
            out[k] = 0;
        return TQ_OK;
    }
    int rc = check_len(c, v, expect_n);
    if (rc)
        return rc;
    int64_t n = tq_qparam_len(v);
    for (int k = 0; k < expect_n; k++) {
        int64_t j = n == 1 ? 0 : k;
        switch (v->dtype) {
        case TQ_UINT8: out[k] = ((const uint8_t *)v->data)[j]; break;
        case TQ_INT8: out[k] = ((const int8_t *)v->data)[j]; break;
        case TQ_INT32: out[k] = ((const int32_t *)v->data)[j]; break;
        default:
            return tq_op_fail(c, TQ_EUNSUPPORTED, "zero point '%s' has unsupported type %s",
                              v->name, tq_dtype_name(v->dtype));
        }
    }
    return TQ_OK;
}

int tq_qparam_scale(tq_op_ctx *c, int i, int expect_n, float *out)
{
    const tq_value *v = i < c->n_in ? c->in[i] : NULL;
    if (!v)
        return tq_op_fail(c, TQ_EFORMAT, "scale input %d is missing", i);
    if (v->dtype != TQ_FLOAT)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "scale '%s' is %s; only float32 is supported",
                          v->name, tq_dtype_name(v->dtype));
    int rc = check_len(c, v, expect_n);
    if (rc)
        return rc;
    int64_t n = tq_qparam_len(v);
    for (int k = 0; k < expect_n; k++)
        out[k] = ((const float *)v->data)[n == 1 ? 0 : k];
    return TQ_OK;
}

void tq_dynamic_qparams(float mn, float mx, float *scale, int *zp)
{
    mn = mn < 0.0f ? mn : 0.0f;
    mx = mx > 0.0f ? mx : 0.0f;
    float s = mx == mn ? 1.0f : (mx - mn) / 255.0f;
    float z = 0.0f - mn / s;
    z = z > 0.0f ? z : 0.0f;
    z = z < 255.0f ? z : 255.0f;
    *scale = s;
    *zp = (int)rintf(z);
}

