/* SHA-256 digests (lower-case hex) of files and buffers, for the registry's
 * integrity checks and report provenance. Backed by OpenSSL libcrypto. */
#ifndef TQ_IO_SHA256_H
#define TQ_IO_SHA256_H

#include <stddef.h>

#include "tinyq/tinyq.h"

#define TQ_SHA256_HEX_LEN 64

/* Digest of a whole file, streamed (the file is never held in memory). */
int tq_sha256_file(const char *path, char hex[TQ_SHA256_HEX_LEN + 1], tq_error *err);
void tq_sha256_buffer(const void *data, size_t len, char hex[TQ_SHA256_HEX_LEN + 1]);

#endif
