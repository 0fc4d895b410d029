/* PLCC / SROCC / RMSE in double precision (two-pass, mean-centred sums so
 * that large offsets such as VMAF scores near 100 do not cancel). */
#include "util/metrics.h"

#include <math.h>
#include <stdlib.h>

double tq_plcc(const double *x, const double *y, size_t n)
{
    if (n < 2)
        return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0)
        return NAN;
    return sxy / sqrt(sxx * syy);
}

typedef struct ranked {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return (x > y) - (x < y);
}

/* Average ranks (1-based) of v into r. */
static int rank_average(const double *v, size_t n, double *r)
{
    ranked *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return -1;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (ranked){v[i], i};
    qsort(tmp, n, sizeof *tmp, cmp_ranked);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && tmp[j + 1].v == tmp[i].v)
            j++;
        double avg = ((double)i + (double)j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            r[tmp[k].i] = avg;
        i = j + 1;
    }
    free(tmp);
    return 0;
}

double tq_srocc(const double *x, const double *y, size_t n)
{
    if (n < 2)
        return NAN;
    double *rx = malloc(2 * n * sizeof *rx);
    if (!rx)
        return NAN;
    double *ry = rx + n;
    double r = NAN;
    if (rank_average(x, n, rx) == 0 && rank_average(y, n, ry) == 0)
        r = tq_plcc(rx, ry, n);
    free(rx);
    return r;
}

double tq_rmse(const double *x, const double *y, size_t n)
{
    if (n == 0)
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];
        s += d * d;
    }
    return sqrt(s / (double)n);
}
