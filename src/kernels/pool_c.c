/* C pooling kernels (pool.h). Every geometry is viewed as 3-D (missing
 * leading dims have size 1) so one loop nest serves 1-D, 2-D and 3-D. */
#include <math.h>
#include <stddef.h>

#include "kernels/pool.h"

typedef struct dims3 {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} dims3;

static void to3(const tq_pool_geom *g, dims3 *d)
{
    int off = 3 - g->nd;
    for (int i = 0; i < 3; i++) {
        int j = i - off;
        d->in[i] = j >= 0 ? g->in[j] : 1;
        d->out[i] = j >= 0 ? g->out[j] : 1;
        d->k[i] = j >= 0 ? g->kernel[j] : 1;
        d->s[i] = j >= 0 ? g->stride[j] : 1;
        d->d[i] = j >= 0 ? g->dilation[j] : 1;
        d->pb[i] = j >= 0 ? g->pad_begin[j] : 0;
        d->pe[i] = j >= 0 ? g->pad_end[j] : 0;
    }
}

/* Window taps of output o along one dim: positions first + t*dil, t < k.
 * Returns via lo/hi the range of t that lands inside [0, in). */
static void taps(const dims3 *d, int dim, int64_t o, int64_t *first, int64_t *t_lo,
                 int64_t *t_hi)
{
    int64_t f = o * d->s[dim] - d->pb[dim];
    int64_t lo = 0, hi = d->k[dim];
    while (lo < hi && f + lo * d->d[dim] < 0)
        lo++;
    while (hi > lo && f + (hi - 1) * d->d[dim] >= d->in[dim])
        hi--;
    *first = f;
    *t_lo = lo;
    *t_hi = hi;
}

void tq_maxpool_c(const tq_pool_geom *g, const float *in, float *out)
{
    tq_maxpool_idx_c(g, in, out, NULL);
}

void tq_maxpool_idx_c(const tq_pool_geom *g, const float *in, float *out, int64_t *idx)
{
    dims3 d;
    to3(g, &d);
    for (int64_t o0 = 0; o0 < d.out[0]; o0++) {
        int64_t f0, a0, b0;
        taps(&d, 0, o0, &f0, &a0, &b0);
        for (int64_t o1 = 0; o1 < d.out[1]; o1++) {
            int64_t f1, a1, b1;
            taps(&d, 1, o1, &f1, &a1, &b1);
            for (int64_t o2 = 0; o2 < d.out[2]; o2++) {
                int64_t f2, a2, b2;
                taps(&d, 2, o2, &f2, &a2, &b2);
                float m = -INFINITY;
                int64_t at = -1;
                for (int64_t t0 = a0; t0 < b0; t0++)
                    for (int64_t t1 = a1; t1 < b1; t1++) {
                        int64_t row = ((f0 + t0 * d.d[0]) * d.in[1] + (f1 + t1 * d.d[1])) *
                                      d.in[2];
                        for (int64_t t2 = a2; t2 < b2; t2++) {
                            float v = in[row + f2 + t2 * d.d[2]];
                            if (v > m || (isnan(v) && !isnan(m)) || at < 0) {
                                m = v;
                                at = row + f2 + t2 * d.d[2];
                            }
                        }
                    }
                *out++ = m;
                if (idx)
                    *idx++ = at;
            }
        }
    }
}

/* taps of the window that fall inside the input extended by the pads */
static int64_t padded_count(const dims3 *d, int dim, int64_t first)
{
    int64_t n = 0;
    for (int64_t t = 0; t < d->k[dim]; t++) {
        int64_t p = first + t * d->d[dim];
        if (p < d->in[dim] + d->pe[dim])
            n++;
    }
    return n;
}

void tq_avgpool_c(const tq_pool_geom *g, const float *in, float *out, bool count_include_pad)
{
    dims3 d;
    to3(g, &d);
    for (int64_t o0 = 0; o0 < d.out[0]; o0++) {
        int64_t f0, a0, b0;
        taps(&d, 0, o0, &f0, &a0, &b0);
        for (int64_t o1 = 0; o1 < d.out[1]; o1++) {
            int64_t f1, a1, b1;
            taps(&d, 1, o1, &f1, &a1, &b1);
            for (int64_t o2 = 0; o2 < d.out[2]; o2++) {
                int64_t f2, a2, b2;
                taps(&d, 2, o2, &f2, &a2, &b2);
                float sum = 0.0f;
                for (int64_t t0 = a0; t0 < b0; t0++)
                    for (int64_t t1 = a1; t1 < b1; t1++) {
                        const float *row = in + ((f0 + t0 * d.d[0]) * d.in[1] +
                                                 (f1 + t1 * d.d[1])) * d.in[2];
                        for (int64_t t2 = a2; t2 < b2; t2++)
                            sum += row[f2 + t2 * d.d[2]];
                    }
                int64_t count = count_include_pad
                                    ? padded_count(&d, 0, f0) * padded_count(&d, 1, f1) *
                                          padded_count(&d, 2, f2)
                                    : (b0 - a0) * (b1 - a1) * (b2 - a2);
                *out++ = count > 0 ? sum / (float)count : NAN;
            }
        }
    }
}

void tq_global_avgpool_c(const float *in, int64_t planes, int64_t n, float *out)
{
    for (int64_t p = 0; p < planes; p++) {
        const float *x = in + p * n;
        /* four partial sums: vectorisable order, and less rounding drift */
        float s[4] = { 0, 0, 0, 0 };
        int64_t i = 0;
        for (; i + 4 <= n; i += 4)
            for (int j = 0; j < 4; j++)
                s[j] += x[i + j];
        for (; i < n; i++)
            s[0] += x[i];
        out[p] = ((s[0] + s[1]) + (s[2] + s[3])) / (float)n;
    }
}
