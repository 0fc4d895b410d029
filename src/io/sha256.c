/* SHA-256 through OpenSSL's EVP interface (the low-level SHA256_* calls are
 * deprecated in OpenSSL 3). */
#include "io/sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

static void to_hex(const unsigned char *md, char hex[TQ_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[TQ_SHA256_HEX_LEN] = '\0';
}

void tq_sha256_buffer(const void *data, size_t len, char hex[TQ_SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    /* EVP_Digest only fails on allocation failure inside OpenSSL; an empty
     * string then marks "no digest" rather than a wrong one. */
    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
        hex[0] = '\0';
        return;
    }
    to_hex(md, hex);
}

int tq_sha256_file(const char *path, char hex[TQ_SHA256_HEX_LEN + 1], tq_error *err)
{
    hex[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return tq_fail(err, TQ_EIO, "%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        fclose(f);
        return tq_fail(err, TQ_ENOMEM, "%s: cannot start SHA-256", path);
    }
    unsigned char buf[1 << 16];
    size_t n;
    int rc = TQ_OK;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (!EVP_DigestUpdate(ctx, buf, n)) {
            rc = tq_fail(err, TQ_EINTERNAL, "%s: SHA-256 update failed", path);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = tq_fail(err, TQ_EIO, "%s: read error: %s", path, strerror(errno));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!rc && (!EVP_DigestFinal_ex(ctx, md, &md_len) || md_len != 32))
        rc = tq_fail(err, TQ_EINTERNAL, "%s: SHA-256 finalisation failed", path);
    if (!rc)
        to_hex(md, hex);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return rc;
}
