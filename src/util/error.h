/* Error reporting: every failure carries a code and a message naming where
 * (file, node, tensor, entry id) and what went wrong. */
#ifndef TQ_UTIL_ERROR_H
#define TQ_UTIL_ERROR_H

#include "tinyq/tinyq.h"

/* Set err (if non-NULL) and return code, so callers can `return tq_fail(...)`.
 * The first failure wins: an error already set is not overwritten, so the
 * innermost (most specific) message survives. */
int tq_fail(tq_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message, e.g. with the file name ("model.onnx: ..."). */
void tq_error_prefix(tq_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void tq_error_clear(tq_error *err);

#endif
