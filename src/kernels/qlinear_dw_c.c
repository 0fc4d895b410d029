/* C reference of the static int8 depthwise conv (qlinear_dw.h) and its
 * dispatch: integer taps, int32 bias, requantisation, per output pixel. */
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/qgemm.h"
#include "kernels/qlinear_dw.h"

tq_qlinear_dw_fn tq_qlinear_dw_get(void)
{
#if defined(TQ_HAVE_AVX2)
    if (tq_cpu_flags() & TQ_CPU_FLAG_AVX2)
        return tq_qlinear_dw_avx2;
#endif
    return tq_qlinear_dw_c;
}

void tq_qlinear_dw_c(const tq_conv2d_geom *g, const void *x, const tq_qlinear_dw_args *a,
                     void *out, size_t out_stride)
{
    for (int o = 0; o < a->nout; o++) {
        const float *w = a->w + 9 * o;
        char *plane = (char *)out + (size_t)o * out_stride;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int32_t acc = (int32_t)a->bias[o]; /* padding is the zero point: adds 0 */
                for (int ky = 0; ky < 3; ky++) {
                    int64_t iy = oy * g->sh - g->pt + ky;
                    if (iy < 0 || iy >= g->ih)
                        continue;
                    for (int kx = 0; kx < 3; kx++) {
                        int64_t ix = ox * g->sw - g->pl + kx;
                        if (ix < 0 || ix >= g->iw)
                            continue;
                        int64_t i = iy * g->iw + ix;
                        int v = a->x_signed ? ((const int8_t *)x)[i] : ((const uint8_t *)x)[i];
                        acc += (int32_t)w[ky * 3 + kx] * (v - a->x_zp);
                    }
                }
                tq_requant_c(&acc, 1, a->mult[o], a->y_zp, a->y_signed,
                             plane + oy * g->ow + ox);
            }
    }
}
