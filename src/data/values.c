/* Numeric tensors read as doubles, and the finiteness check every data set
 * loader needs (a NaN in calibration data poisons every range it touches). */
#include "data/values.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/error.h"

static int value_at(const tq_tensor *t, int64_t i, double *x)
{
    const void *d = t->data;
    switch (t->dtype) {
    case TQ_FLOAT: *x = ((const float *)d)[i]; return 1;
    case TQ_DOUBLE: *x = ((const double *)d)[i]; return 1;
    case TQ_INT64: *x = (double)((const int64_t *)d)[i]; return 1;
    case TQ_INT32: *x = ((const int32_t *)d)[i]; return 1;
    case TQ_INT16: *x = ((const int16_t *)d)[i]; return 1;
    case TQ_INT8: *x = ((const int8_t *)d)[i]; return 1;
    case TQ_UINT8: *x = ((const uint8_t *)d)[i]; return 1;
    case TQ_UINT16: *x = ((const uint16_t *)d)[i]; return 1;
    case TQ_UINT32: *x = ((const uint32_t *)d)[i]; return 1;
    case TQ_UINT64: *x = (double)((const uint64_t *)d)[i]; return 1;
    case TQ_BOOL: *x = ((const uint8_t *)d)[i]; return 1;
    case TQ_FLOAT16: *x = tq_half_to_float(((const uint16_t *)d)[i]); return 1;
    default: return 0;
    }
}

int tq_tensor_as_doubles(const tq_tensor *t, const char *source, double **v, size_t *n,
                         tq_error *err)
{
    int64_t k = tq_tensor_numel(t);
    if (k < 0)
        k = 0;
    *n = 0;
    *v = malloc(((size_t)k + 1) * sizeof **v);
    if (!*v)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    for (int64_t i = 0; i < k; i++) {
        if (!value_at(t, i, &(*v)[i])) {
            free(*v);
            *v = NULL;
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s' is %s, not numeric", source,
                           t->name ? t->name : "?", tq_dtype_name(t->dtype));
        }
    }
    *n = (size_t)k;
    return TQ_OK;
}

int64_t tq_tensor_first_nonfinite(const tq_tensor *t)
{
    if (t->dtype != TQ_FLOAT && t->dtype != TQ_DOUBLE && t->dtype != TQ_FLOAT16)
        return -1;
    int64_t k = tq_tensor_numel(t);
    for (int64_t i = 0; i < k; i++) {
        double x;
        value_at(t, i, &x);
        if (!isfinite(x))
            return i;
    }
    return -1;
}
