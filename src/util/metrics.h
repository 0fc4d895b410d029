/* Agreement metrics between two score series, computed in double:
 * PLCC (Pearson), SROCC (Spearman, average ranks for ties), RMSE.
 * Used by the accuracy gate (int8 vs fp32) and the task metric (model vs targets). */
#ifndef TQ_UTIL_METRICS_H
#define TQ_UTIL_METRICS_H

#include <stddef.h>

/* Pearson's linear correlation of x and y (n >= 2). NaN when either series is
 * constant or n < 2: a correlation is undefined there, and the gate must not
 * pass a model on an undefined number. */
double tq_plcc(const double *x, const double *y, size_t n);
/* Spearman's rank correlation: Pearson of the ranks, ties get their average
 * rank (as scipy.stats.spearmanr). NaN as for tq_plcc, or on allocation failure. */
double tq_srocc(const double *x, const double *y, size_t n);
/* Root mean squared difference; NaN when n == 0. */
double tq_rmse(const double *x, const double *y, size_t n);

#endif
