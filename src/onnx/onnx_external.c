/* External tensor data: path confinement, bounds checks, cached file handles. */
#define _POSIX_C_SOURCE 200809L
#include "onnx/onnx_external.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fileio.h"

int tq_external_init(tq_external_ctx *ctx, const char *model_name, const char *base_dir,
                     tq_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->model_name = model_name;
    if (!base_dir)
        return TQ_OK; /* external data will be refused */
    ctx->base_real = realpath(base_dir, NULL);
    if (!ctx->base_real)
        return tq_fail(err, TQ_EIO, "%s: cannot resolve model folder '%s': %s", model_name,
                       base_dir, strerror(errno));
    return TQ_OK;
}

void tq_external_close(tq_external_ctx *ctx)
{
    for (int i = 0; i < ctx->n_files; i++) {
        free(ctx->files[i].location);
        close(ctx->files[i].fd);
    }
    free(ctx->files);
    free(ctx->base_real);
    ctx->files = NULL;
    ctx->n_files = 0;
    ctx->base_real = NULL;
}

/* A location is refused before touching the file system when it is absolute or
 * has a ".." component (either separator, so a model made on Windows cannot
 * sneak one past us). */
static int location_is_confined(const char *loc)
{
    if (loc[0] == '/' || loc[0] == '\\')
        return 0;
    const char *p = loc;
    while (*p) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += n;
        if (*p)
            p++;
    }
    return 1;
}

/* Open (or find the cached handle of) the file a location names; the realpath
 * check catches symlinks that lead out of the model folder. */
static int open_location(tq_external_ctx *ctx, const char *what, const char *tensor,
                         const char *loc, tq_external_file **out, tq_error *err)
{
    const char *model = ctx->model_name;
    if (!ctx->base_real)
        return tq_fail(err, TQ_EFORMAT,
                       "%s: %s '%s': external data '%s' cannot be resolved when loading "
                       "from memory without a base folder", model, what, tensor, loc);
    if (loc[0] == '\0')
        return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': external data has an empty location",
                       model, what, tensor);
    if (!location_is_confined(loc))
        return tq_fail(err, TQ_EFORMAT,
                       "%s: %s '%s': external data location '%s' is refused (absolute paths "
                       "and '..' components may not leave the model folder)",
                       model, what, tensor, loc);
    char *joined = tq_path_join(ctx->base_real, loc);
    if (!joined)
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", model);
    char *real = realpath(joined, NULL);
    int e = errno;
    free(joined);
    if (!real)
        return tq_fail(err, TQ_EIO, "%s: %s '%s': external data file '%s' cannot be opened: %s",
                       model, what, tensor, loc, strerror(e));
    size_t nb = strlen(ctx->base_real);
    int inside = strncmp(real, ctx->base_real, nb) == 0 &&
                 (real[nb] == '/' || (nb == 1 && ctx->base_real[0] == '/'));
    if (!inside) {
        free(real);
        return tq_fail(err, TQ_EFORMAT,
                       "%s: %s '%s': external data location '%s' resolves outside the model "
                       "folder (symbolic link?)", model, what, tensor, loc);
    }
    for (int i = 0; i < ctx->n_files; i++) {
        if (strcmp(ctx->files[i].location, real) == 0) {
            free(real);
            *out = &ctx->files[i];
            return TQ_OK;
        }
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        e = errno;
        if (fd >= 0)
            close(fd);
        free(real);
        return tq_fail(err, TQ_EIO, "%s: %s '%s': external data '%s' is not a readable file%s%s",
                       model, what, tensor, loc, fd < 0 ? ": " : "", fd < 0 ? strerror(e) : "");
    }
    tq_external_file *files = realloc(ctx->files, (size_t)(ctx->n_files + 1) * sizeof *files);
    if (!files) {
        close(fd);
        free(real);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", model);
    }
    ctx->files = files;
    tq_external_file *f = &files[ctx->n_files++];
    f->location = real;
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    *out = f;
    return TQ_OK;
}

int tq_external_read(tq_external_ctx *ctx, const char *what, const char *tensor,
                     const char *location, uint64_t offset, int has_length, uint64_t length,
                     uint64_t need, void **out, tq_error *err)
{
    *out = NULL;
    const char *model = ctx->model_name;
    tq_external_file *f = NULL;
    int rc = open_location(ctx, what, tensor, location, &f, err);
    if (rc)
        return rc;
    /* ONNX reads to the end of the file when no length is given. */
    if (!has_length)
        length = offset <= f->size ? f->size - offset : 0;
    if (offset > UINT64_MAX - length)
        return tq_fail(err, TQ_EFORMAT,
                       "%s: %s '%s': external data '%s': offset %llu + length %llu overflows",
                       model, what, tensor, location, (unsigned long long)offset,
                       (unsigned long long)length);
    if (offset + length > f->size)
        return tq_fail(err, TQ_EFORMAT,
                       "%s: %s '%s': external data '%s' is %llu bytes, tensor needs bytes "
                       "%llu..%llu", model, what, tensor, location, (unsigned long long)f->size,
                       (unsigned long long)offset, (unsigned long long)(offset + length));
    if (length != need)
        return tq_fail(err, TQ_EFORMAT,
                       "%s: %s '%s': external data length %llu does not match the tensor "
                       "size of %llu bytes", model, what, tensor, (unsigned long long)length,
                       (unsigned long long)need);
    if (need == 0)
        return TQ_OK;
    if (need > SIZE_MAX || offset > (uint64_t)INT64_MAX)
        return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': external data too large", model, what,
                       tensor);
    uint8_t *buf = malloc((size_t)need);
    if (!buf)
        return tq_fail(err, TQ_ENOMEM, "%s: %s '%s': out of memory for %llu bytes", model, what,
                       tensor, (unsigned long long)need);
    size_t done = 0;
    while (done < need) {
        ssize_t r = pread(f->fd, buf + done, (size_t)need - done, (off_t)(offset + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(buf);
            return tq_fail(err, TQ_EIO, "%s: %s '%s': reading external data '%s' failed%s%s",
                           model, what, tensor, location, r < 0 ? ": " : " (file shrank)",
                           r < 0 ? strerror(errno) : "");
        }
        done += (size_t)r;
    }
    ctx->bytes_read += done;
    *out = buf;
    return TQ_OK;
}
