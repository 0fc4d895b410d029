/* Whole-file reads and atomic writes. */
#define _POSIX_C_SOURCE 200809L
#include "util/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

int tq_read_file(const char *path, uint8_t **data, size_t *len, tq_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tq_fail(err, TQ_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return tq_fail(err, TQ_EIO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return tq_fail(err, TQ_EIO, "%s: read error", path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return TQ_OK;
}

int tq_atomic_open(tq_atomic_file *af, const char *path, tq_error *err)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->final_path = strdup(path);
    af->tmp_path = malloc(n + 16);
    if (!af->final_path || !af->tmp_path) {
        tq_atomic_abort(af);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
    }
    snprintf(af->tmp_path, n + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(af->tmp_path);
        af->tmp_path = NULL;
        tq_atomic_abort(af);
        return tq_fail(err, TQ_EIO, "%s: cannot create output: %s", path, strerror(e));
    }
    fchmod(fd, 0644);
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        tq_atomic_abort(af);
        return tq_fail(err, TQ_EIO, "%s: cannot open output", path);
    }
    return TQ_OK;
}

int tq_atomic_write(tq_atomic_file *af, const void *data, size_t len, tq_error *err)
{
    if (len && fwrite(data, 1, len, (FILE *)af->fp) != len)
        return tq_fail(err, TQ_EIO, "%s: write error: %s", af->final_path, strerror(errno));
    return TQ_OK;
}

int tq_atomic_commit(tq_atomic_file *af, tq_error *err)
{
    FILE *f = af->fp;
    af->fp = NULL;
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(af->tmp_path, af->final_path) != 0) {
        int rc = tq_fail(err, TQ_EIO, "%s: cannot write output: %s", af->final_path,
                         strerror(errno));
        tq_atomic_abort(af);
        return rc;
    }
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
    return TQ_OK;
}

void tq_atomic_abort(tq_atomic_file *af)
{
    if (af->fp)
        fclose((FILE *)af->fp);
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    memset(af, 0, sizeof *af);
}

int tq_write_file_atomic(const char *path, const void *data, size_t len, tq_error *err)
{
    tq_atomic_file af;
    int rc = tq_atomic_open(&af, path, err);
    if (rc)
        return rc;
    rc = tq_atomic_write(&af, data, len, err);
    if (rc) {
        tq_atomic_abort(&af);
        return rc;
    }
    return tq_atomic_commit(&af, err);
}

char *tq_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *tq_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}
