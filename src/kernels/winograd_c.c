/* Portable C reference of the Winograd F(2x2, 3x3) transforms
 * (winograd.h). The AVX2 versions do the same adds in the same order, so
 * the two agree bit for bit. */
#include "kernels/winograd.h"

static int64_t round_up8(int64_t n)
{
    return (n + TQ_WINO_VEC - 1) / TQ_WINO_VEC * TQ_WINO_VEC;
}

void tq_wino_in_c(const float *const rows[4], int64_t ntiles, float *out, ptrdiff_t xi_stride)
{
    int64_t n = round_up8(ntiles);
    for (int64_t tx = 0; tx < n; tx++) {
        const float *d0 = rows[0] + 2 * tx, *d1 = rows[1] + 2 * tx;
        const float *d2 = rows[2] + 2 * tx, *d3 = rows[3] + 2 * tx;
        float t[4][4];
        for (int j = 0; j < 4; j++) { /* B^T d: down the columns */
            t[0][j] = d0[j] - d2[j];
            t[1][j] = d1[j] + d2[j];
            t[2][j] = d2[j] - d1[j];
            t[3][j] = d1[j] - d3[j];
        }
        for (int i = 0; i < 4; i++) { /* (B^T d) B: along the rows */
            float *o = out + i * 4 * xi_stride + tx;
            o[0 * xi_stride] = t[i][0] - t[i][2];
            o[1 * xi_stride] = t[i][1] + t[i][2];
            o[2 * xi_stride] = t[i][2] - t[i][1];
            o[3 * xi_stride] = t[i][1] - t[i][3];
        }
    }
}

static float epilogue(float v, const float *bias, const float *z, int64_t x, bool clamp,
                      float lo, float hi)
{
    if (bias)
        v += *bias;
    if (z)
        v += z[x];
    if (clamp)
        v = v < lo ? lo : (v > hi ? hi : v);
    return v;
}

static void out_rows(const float *m, ptrdiff_t xi_stride, int64_t ntiles, const float *bias,
                     const float *z0, const float *z1, float *y0, float *y1, int64_t ow,
                     bool clamp, float lo, float hi)
{
    for (int64_t tx = 0; tx < ntiles; tx++) {
        float s[2][4];
        for (int i = 0; i < 4; i++) { /* M A: along the row */
            const float *r = m + i * 4 * xi_stride + tx;
            float r0 = r[0], r1 = r[xi_stride], r2 = r[2 * xi_stride], r3 = r[3 * xi_stride];
            s[0][i] = r0 + r1 + r2;
            s[1][i] = r1 - r2 - r3;
        }
        for (int c = 0; c < 2; c++) { /* A^T (M A): down the column */
            int64_t x = 2 * tx + c;
            if (x >= ow)
                break;
            float o0 = s[c][0] + s[c][1] + s[c][2];
            float o1 = s[c][1] - s[c][2] - s[c][3];
            y0[x] = epilogue(o0, bias, z0, x, clamp, lo, hi);
            if (y1)
                y1[x] = epilogue(o1, bias, z1, x, clamp, lo, hi);
        }
    }
}

void tq_wino_out_c(const float *m, ptrdiff_t xi_stride, int64_t ntiles, const float *bias,
                   const float *z, float *y, bool two_rows, int64_t rows_below, int64_t ow,
                   bool clamp, float lo, float hi)
{
    (void)rows_below; /* writes exactly ow floats per row */
    out_rows(m, xi_stride, ntiles, bias, z, z && two_rows ? z + ow : NULL, y,
             two_rows ? y + ow : NULL, ow, clamp, lo, hi);
}
