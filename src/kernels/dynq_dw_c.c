/* C reference of the fused dynamic-int8 depthwise conv (dynq_dw.h) and its
 * dispatch: the ONNX ops one after another, per output pixel. */
#include <math.h>

#include "kernels/cpu.h"
#include "kernels/dynq_dw.h"

tq_dynq_dw_fn tq_dynq_dw_get(void)
{
#if defined(TQ_HAVE_AVX2)
    if (tq_cpu_flags() & TQ_CPU_FLAG_AVX2)
        return tq_dynq_dw_avx2;
#endif
    return tq_dynq_dw_c;
}

/* DynamicQuantizeLinear of one value, minus the zero point (kernels/qgemm.h
 * tq_quantize_f32_c's formula) */
static int quant(float x, float scale, int zp)
{
    float t = rintf(x / scale) + (float)zp;
    t = t > 0.0f ? t : 0.0f; /* NaN -> 0 */
    t = t < 255.0f ? t : 255.0f;
    return (int)t - zp;
}

void tq_dynq_dw_c(const tq_conv2d_geom *g, const float *x, const tq_dynq_dw_args *a, float *out,
                  size_t out_stride, float *mn, float *mx)
{
    float lo = *mn, hi = *mx;
    for (int o = 0; o < a->nout; o++, out += out_stride) {
        const float *w = a->w + 9 * o, sprod = a->sprod[o];
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int32_t acc = 0; /* ConvInteger: padding is the zero point, 0 here */
                for (int ky = 0; ky < 3; ky++) {
                    int64_t iy = oy * g->sh - g->pt + ky;
                    if (iy < 0 || iy >= g->ih)
                        continue;
                    for (int kx = 0; kx < 3; kx++) {
                        int64_t ix = ox * g->sw - g->pl + kx;
                        if (ix >= 0 && ix < g->iw)
                            acc += (int32_t)w[ky * 3 + kx] *
                                   quant(x[iy * g->iw + ix], a->scale, a->zp);
                    }
                }
                float y = (float)acc * sprod; /* Cast, Mul */
                if (a->bias)
                    y = y + a->bias[o]; /* Add: a separate rounding */
                if (a->act.kind == TQ_QACT_RELU) {
                    y = y > 0.0f ? y : 0.0f;
                } else if (a->act.kind == TQ_QACT_CLIP) {
                    y = y < a->act.lo ? a->act.lo : y;
                    y = y > a->act.hi ? a->act.hi : y;
                }
                out[oy * g->ow + ox] = y;
                lo = y < lo ? y : lo;
                hi = y > hi ? y : hi;
            }
    }
    *mn = lo;
    *mx = hi;
}
