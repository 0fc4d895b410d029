/* Scale / zero-point math shared by the dynamic and static quantisers. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "quant/qparams.h"
#include "util/error.h"

int tq_qrange(tq_dtype qtype, bool symmetric, bool reduce_range, int *qmin, int *qmax)
{
    if (qtype == TQ_UINT8) {
        *qmin = 0;
        *qmax = reduce_range ? 127 : symmetric ? 254 : 255;
    } else if (qtype == TQ_INT8) {
        *qmin = reduce_range ? -64 : symmetric ? -127 : -128;
        *qmax = reduce_range ? 64 : 127;
    } else {
        return TQ_EINVAL;
    }
    return TQ_OK;
}

void tq_qtype_limits(tq_dtype qtype, int *lo, int *hi)
{
    *lo = qtype == TQ_UINT8 ? 0 : -128;
    *hi = qtype == TQ_UINT8 ? 255 : 127;
}

tq_qparams tq_compute_qparams(float rmin, float rmax, int qmin, int qmax, bool symmetric)
{
    /* Zero must be exactly representable (padding, Relu outputs). */
    double lo = fmin((double)rmin, 0.0), hi = fmax((double)rmax, 0.0);
    if (symmetric) {
        double absmax = fmax(fabs(lo), fabs(hi));
        lo = -absmax;
        hi = absmax;
    }
    tq_qparams p;
    p.scale = (float)((hi - lo) / (double)(qmax - qmin));
    /* A degenerate range (all zeros) would give scale 0 and divide by zero
     * downstream; ORT substitutes scale 1, zero point 0. */
    if (!(p.scale >= FLT_MIN)) {
        p.scale = 1.0f;
        p.zero_point = 0;
        return p;
    }
    double zp = symmetric ? rint((qmin + qmax) / 2.0) : rint((double)qmin - lo / (double)p.scale);
    if (zp < qmin)
        zp = qmin;
    if (zp > qmax)
        zp = qmax;
    p.zero_point = (int32_t)zp;
    return p;
}

int32_t tq_quantize_value(float x, float scale, int32_t zp, int lo, int hi)
{
    /* float division like the QuantizeLinear kernel; rint = half-to-even in
     * the default rounding mode. */
    float r = rintf(x / scale);
    double v = (double)r + zp;
    if (!(v >= lo)) /* also catches NaN */
        return v != v ? zp : lo;
    if (v > hi)
        return hi;
    return (int32_t)v;
}

int32_t tq_quantize_bias_value(float b, float bias_scale)
{
    double v = rintf(b / bias_scale);
    if (v != v)
        return 0;
    if (v <= (double)INT32_MIN)
        return INT32_MIN;
    if (v >= (double)INT32_MAX)
        return INT32_MAX;
    return (int32_t)v;
}

int tq_quantize_weight_s8(const tq_tensor *w, int axis, bool reduce_range, int8_t *q,
                          float *scales, tq_error *err)
{
    if (w->dtype != TQ_FLOAT)
        return tq_fail(err, TQ_EUNSUPPORTED, "weight '%s': %s weights cannot be quantised (float32 only)",
                       w->name, tq_dtype_name(w->dtype));
    if (axis >= w->rank)
        return tq_fail(err, TQ_EINTERNAL, "weight '%s': channel axis %d out of rank %d", w->name,
                       axis, w->rank);
    const float *x = w->data;
    int64_t numel = tq_tensor_numel(w);
    /* View the tensor as [outer, channels, inner] around the channel axis. */
    int64_t channels = axis < 0 ? 1 : w->dims[axis];
    int64_t inner = 1, outer = 1;
    if (axis >= 0) {
        for (int d = axis + 1; d < w->rank; d++)
            inner *= w->dims[d];
        for (int d = 0; d < axis; d++)
            outer *= w->dims[d];
    } else {
        inner = numel;
    }
    int qmin, qmax, lo, hi;
    tq_qrange(TQ_INT8, true, reduce_range, &qmin, &qmax);
    tq_qtype_limits(TQ_INT8, &lo, &hi);
    for (int64_t c = 0; c < channels; c++) {
        float mn = 0.0f, mx = 0.0f;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                float v = x[(o * channels + c) * inner + i];
                if (!isfinite(v))
                    return tq_fail(err, TQ_EFORMAT, "weight '%s': element %lld is %s", w->name,
                                   (long long)((o * channels + c) * inner + i),
                                   isnan(v) ? "NaN" : "infinite");
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
        tq_qparams p = tq_compute_qparams(mn, mx, qmin, qmax, true);
        scales[c] = p.scale;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t k = (o * channels + c) * inner + i;
                q[k] = (int8_t)tq_quantize_value(x[k], p.scale, p.zero_point, lo, hi);
            }
    }
    return TQ_OK;
}
