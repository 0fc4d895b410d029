/* MSE-optimal clipping threshold from a |x| histogram (calib_mse.h). A plain
 * scan of every bin edge as a candidate: with prefix sums of the counts and
 * of the count-weighted centres (and their squares) each candidate's
 * clipping error is O(1), so the scan is O(bins). */
#include <math.h>
#include <stdlib.h>

#include "quant/calib_mse.h"

float tq_calib_mse_threshold(const uint64_t *hist, int bins, float absmax, float mn, float mx)
{
    if (!hist || bins < 2 || !(absmax > 0))
        return absmax;
    double width = absmax / (double)bins;
    /* suffix sums over bins >= i: count, sum of centres, sum of squared centres */
    double *sc = malloc((size_t)(bins + 1) * 3 * sizeof(double));
    if (!sc)
        return absmax;
    double *s1 = sc + bins + 1, *s2 = s1 + bins + 1;
    sc[bins] = s1[bins] = s2[bins] = 0;
    for (int j = bins - 1; j >= 0; j--) {
        double h = (double)(j == 0 ? hist[1] : hist[j]);
        double c = (j + 0.5) * width;
        sc[j] = sc[j + 1] + h;
        s1[j] = s1[j + 1] + h * c;
        s2[j] = s2[j + 1] + h * c * c;
    }
    double best = INFINITY;
    float best_t = absmax;
    for (int i = 1; i <= bins; i++) {
        double t = i * width;
        double lo = fmax(mn, -t), hi = fmin(mx, t);
        lo = fmin(lo, 0.0), hi = fmax(hi, 0.0);
        double step = (hi - lo) / 255.0;
        double inside = sc[0] - sc[i];
        /* sum over clipped bins of (c - t)^2 = S2 - 2 t S1 + t^2 N */
        double clipped = s2[i] - 2.0 * t * s1[i] + t * t * sc[i];
        double e = inside * step * step / 12.0 + clipped;
        if (e < best) {
            best = e;
            best_t = (float)t;
        }
    }
    free(sc);
    return best_t;
}
