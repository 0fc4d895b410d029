/* MSE calibration (`--method mse`): the clipping threshold that minimises
 * the expected squared quantisation error of a tensor, estimated from its
 * calibration histogram of |x|. */
#ifndef TQ_QUANT_CALIB_MSE_H
#define TQ_QUANT_CALIB_MSE_H

#include <stdint.h>

/* hist: `bins` counts of |x| over [0, absmax] (bin j = [j, j+1) * absmax/bins);
 * mn, mx: the observed min/max. Returns the threshold t in (0, absmax] whose
 * range [max(mn, -t), min(mx, t)] (widened to hold 0, 255 steps) gives the
 * least estimated error: rounding noise step^2/12 for every value inside,
 * (|x| - t)^2 for every value clipped (bin centres stand for their values).
 * The zero bin takes its neighbour's count first, as for Entropy: the exact
 * zeros of a ReLU output cost nothing and would otherwise pull t down. */
float tq_calib_mse_threshold(const uint64_t *hist, int bins, float absmax, float mn, float mx);

#endif
