/* Error message formatting. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tq_fail(tq_error *err, int code, const char *fmt, ...)
{
    if (!err || err->code != TQ_OK)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void tq_error_prefix(tq_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[TQ_ERROR_MSG_MAX], old[TQ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable here: the message keeps its most useful start. */
    size_t n = strlen(prefix);
    if (n >= sizeof err->msg)
        n = sizeof err->msg - 1;
    memcpy(err->msg, prefix, n);
    size_t rest = strnlen(old, sizeof old);
    if (rest > sizeof err->msg - 1 - n)
        rest = sizeof err->msg - 1 - n;
    memcpy(err->msg + n, old, rest);
    err->msg[n + rest] = '\0';
}

void tq_error_clear(tq_error *err)
{
    if (err) {
        err->code = TQ_OK;
        err->msg[0] = '\0';
    }
}

const char *tq_strerror(int code)
{
    switch (code) {
    case TQ_OK: return "success";
    case TQ_EINVAL: return "invalid argument";
    case TQ_EIO: return "input/output error";
    case TQ_EFORMAT: return "malformed file";
    case TQ_EUNSUPPORTED: return "unsupported";
    case TQ_ENOMEM: return "out of memory";
    case TQ_ECHECK: return "check failed";
    default: return "internal error";
    }
}
