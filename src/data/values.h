/* Numeric tensors of any element type read as doubles: labels, targets and
 * stratification keys come as int64, uint8, float32, ... depending on who
 * wrote the file. */
#ifndef TQ_DATA_VALUES_H
#define TQ_DATA_VALUES_H

#include <stddef.h>

#include "graph/ir.h"

/* *v = malloc'ed copy of t's values as doubles (*n of them). A non-numeric
 * element type fails with "<source>: entry '<name>' is <type>, not numeric". */
int tq_tensor_as_doubles(const tq_tensor *t, const char *source, double **v, size_t *n,
                         tq_error *err);

/* Index of the first non-finite value (NaN or +-Inf) of a float tensor
 * (float32/float64/float16), or -1 when all are finite or t is an integer type. */
int64_t tq_tensor_first_nonfinite(const tq_tensor *t);

#endif
