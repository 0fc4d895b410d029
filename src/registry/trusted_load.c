/* The trust-root load: the model file is read once into memory and its
 * sha256 compared with the registry BEFORE the ONNX parser sees a byte, so a
 * tampered or stale file is refused without ever being interpreted. */
#include <stdlib.h>
#include <string.h>

#include "io/sha256.h"
#include "registry/registry_internal.h"
#include "util/error.h"
#include "util/fileio.h"

int tq_trusted_model_load(const char *path, const char *expect, const char *what,
                          const char *reg_path, const char *id, tq_model **out, tq_error *err)
{
    *out = NULL;
    if (!expect)
        return tq_fail(err, TQ_EFORMAT, "%s: entry '%s': %s: missing; refusing to load %s "
                       "without a digest to check", reg_path, id, what, path);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = tq_read_file(path, &buf, &len, err);
    if (rc) {
        tq_error_prefix(err, "%s: entry '%s': ", reg_path, id);
        return rc;
    }
    char hex[TQ_SHA256_HEX_LEN + 1];
    tq_sha256_buffer(buf, len, hex);
    if (strcmp(hex, expect) != 0) {
        free(buf);
        return tq_fail(err, TQ_EFORMAT,
                       "%s: entry '%s': %s: mismatch for %s (registry %s, file %s); "
                       "refusing to load it", reg_path, id, what, path, expect, hex);
    }
    char *dir = tq_path_dirname(path);
    if (!dir) {
        free(buf);
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    rc = tq_model_load_buffer(out, buf, len, path, dir, err);
    if (*out)
        (*out)->file_bytes = len;
    free(dir);
    free(buf);
    return rc;
}
