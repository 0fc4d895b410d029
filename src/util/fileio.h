/* Whole-file reads and atomic writes (temp file in the same folder + rename),
 * so a failing command never leaves a half-written output behind. */
#ifndef TQ_UTIL_FILEIO_H
#define TQ_UTIL_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "tinyq/tinyq.h"

/* Read a whole file into a malloc'ed buffer (NUL-terminated for convenience). */
int tq_read_file(const char *path, uint8_t **data, size_t *len, tq_error *err);

/* Atomic writer: open a temp file beside `path`, write, commit (fsync+rename)
 * or abort (unlink). */
typedef struct tq_atomic_file {
    char *final_path;
    char *tmp_path;
    void *fp; /* FILE* */
} tq_atomic_file;

int tq_atomic_open(tq_atomic_file *af, const char *path, tq_error *err);
int tq_atomic_write(tq_atomic_file *af, const void *data, size_t len, tq_error *err);
int tq_atomic_commit(tq_atomic_file *af, tq_error *err);
void tq_atomic_abort(tq_atomic_file *af);

/* One-shot atomic write of a buffer. */
int tq_write_file_atomic(const char *path, const void *data, size_t len, tq_error *err);

/* Directory part of path ("." when none); malloc'ed. */
char *tq_path_dirname(const char *path);
/* Join dir and name with '/'; malloc'ed. */
char *tq_path_join(const char *dir, const char *name);

#endif
