/* Library version string (from meson's project version). */
#include "tinyq/tinyq.h"

#ifndef TQ_VERSION
#define TQ_VERSION "0.0.0"
#endif

const char *tq_version(void)
{
    return TQ_VERSION;
}
