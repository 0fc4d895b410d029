/* Building a calibration set (SPEC §1: an .npz with one [N, ...] stack per
 * model input name) from npy / npz / CSV / JSONL sources by seeded, optionally
 * stratified sampling. The sampling is numpy's, draw for draw, so a Python
 * user reproduces the exact selection (docs/QUANTIZATION.md gives the recipe):
 *
 *   rng = np.random.default_rng(seed)
 *   plain:      idx = np.sort(rng.permutation(total)[:n])
 *   stratified: classes = np.unique(labels); counts = per class;
 *               quota = n * counts // total; the n - sum(quota) leftover
 *               samples go one each to the classes with the largest
 *               remainder n * counts % total (ties: smaller class first,
 *               np.argsort(-rem, kind="stable"));
 *               for each class c ascending: m = np.flatnonzero(labels == c);
 *                   take m[rng.permutation(len(m))[:quota_c]]
 *               idx = np.sort(all taken) */
#ifndef TQ_DATA_CALIB_BUILD_H
#define TQ_DATA_CALIB_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "io/npz.h"

typedef struct tq_calib_build_options {
    int64_t n;                /* samples to keep; 0 = all */
    uint64_t seed;            /* default_rng(seed) */
    const char *stratify_key; /* label entry/column/field; NULL = plain sampling */
    const char *input_name;   /* output name for table/npy sources (default "input"),
                                 or the new name of a single npz entry */
    const char *const *keys;  /* entries / columns / fields to take; NULL = default */
    int n_keys;
} tq_calib_build_options;

typedef struct tq_calib_build_info {
    int64_t total;            /* rows over all sources */
    int64_t n;                /* rows kept */
    int n_classes;            /* stratified: distinct labels */
} tq_calib_build_info;

/* Choose n of `total` rows (labels may be NULL = plain sampling); idx gets n
 * sorted row indices. *n_classes (may be NULL) receives the class count. */
int tq_calib_select(const double *labels, int64_t total, int64_t n, uint64_t seed, int64_t *idx,
                    int *n_classes, tq_error *err);

/* Read every source (rows concatenated in argument order; all sources must
 * give the same names, dtypes and sample shapes), select, and fill `out`. */
int tq_calib_build(const char *const *sources, int n_sources, const tq_calib_build_options *o,
                   tq_tensor_set *out, tq_calib_build_info *info, tq_error *err);

#endif
