/* Shared helpers of the io tests: running the system numpy as the reference
 * implementation, and scratch folders. */
#ifndef TQ_TESTS_IO_UTIL_H
#define TQ_TESTS_IO_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Debian's python3 carries numpy; the python3 on PATH may not. */
#define TQ_TEST_PYTHON "/usr/bin/python3"

static inline int have_numpy(void)
{
    if (access(TQ_TEST_PYTHON, X_OK) != 0)
        return 0;
    return system(TQ_TEST_PYTHON " -c 'import numpy' >/dev/null 2>&1") == 0;
}

/* Run a shell command; return its malloc'ed stdout (NULL on failure) and
 * its exit status in *status. */
static inline char *run_capture(const char *cmd, int *status)
{
    *status = -1;
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    if (!out) {
        pclose(p);
        return NULL;
    }
    size_t r;
    while ((r = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 2) {
            char *grown = realloc(out, cap * 2);
            if (!grown)
                break;
            out = grown;
            cap *= 2;
        }
    }
    out[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* A fresh scratch folder (caller frees the string; remove with rm_tree). */
static inline char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/tq_io_test_XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static inline void rm_tree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

static inline const char *source_root(void)
{
    const char *s = getenv("TQ_SOURCE_ROOT");
    return s ? s : ".";
}

#endif
