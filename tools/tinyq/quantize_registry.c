/* `tinyq quantize --registry REG --id ID`: quantise one registry entry and
 * record quant_mode / int8_sha256 / quant_calibration_set in the registry.
 *
 * Order matters for "no input modified by a failing command": the fp32 file
 * is checked against the registry (the trust root) before anything is
 * written; the previous int8 file is kept in memory so that, if recording in
 * the registry fails after the new int8 file was written, it is put back. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/sha256.h"
#include "quantize_registry.h"
#include "registry/registry_internal.h"
#include "util/error.h"
#include "util/fileio.h"

/* The path to record as quant_calibration_set: relative to the registry's
 * folder when the file lies inside it (how the validator resolves it), else
 * absolute. malloc'ed; NULL with err set when the file does not exist. */
static char *calibration_field(const tq_registry *reg, const char *cal, tq_error *err)
{
    char dir[PATH_MAX], file[PATH_MAX];
    if (!realpath(cal, file)) {
        tq_fail(err, TQ_EIO, "%s: calibration set: %s", cal, strerror(errno));
        return NULL;
    }
    if (!realpath(reg->dir, dir)) {
        tq_fail(err, TQ_EIO, "%s: registry folder: %s", reg->dir, strerror(errno));
        return NULL;
    }
    size_t n = strlen(dir);
    if (strncmp(file, dir, n) == 0 && file[n] == '/')
        return strdup(file + n + 1);
    fprintf(stderr, "tinyq: note: %s lies outside the registry's folder %s; recording its "
                    "absolute path\n", file, dir);
    return strdup(file);
}

/* The int8 file is written beside the entry's model: refuse entries whose
 * path would put it outside the registry's folder (the validator's rule). */
static int path_stays_inside(const char *onnx)
{
    if (onnx[0] == '/')
        return 0;
    for (const char *p = onnx; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += n;
        p += *p == '/';
    }
    return 1;
}

/* Pick the mode: --mode when given, else the entry's (fp32 entries: dynamic). */
static int pick_mode(const quantize_registry_job *job, const tq_registry_entry *e,
                     tq_quant_settings *s, tq_error *err)
{
    if (!job->mode_given)
        s->mode = e->quant_mode == TQ_QUANT_FP32 ? TQ_QUANT_DYNAMIC : e->quant_mode;
    if (s->mode == TQ_QUANT_QAT && (!s->qat || !s->qat->train_npz))
        return tq_fail(err, TQ_EINVAL, "%s: entry '%s': qat mode needs --train DATA.npz",
                       job->registry, job->id);
    return TQ_OK;
}

/* The calibration file to read (*read_path) and the value to record (*field). */
static int pick_calibration(const quantize_registry_job *job, const tq_registry *reg,
                            const tq_registry_entry *e, const tq_quant_settings *s,
                            char **read_path, char **field, tq_error *err)
{
    *read_path = *field = NULL;
    if (s->mode == TQ_QUANT_DYNAMIC) {
        if (job->calibration)
            return tq_fail(err, TQ_EINVAL, "--calibration is only used by --mode static or qat");
        return TQ_OK;
    }
    if (s->mode == TQ_QUANT_QAT && !job->calibration)
        return TQ_OK; /* qat calibrates on samples of its training set */
    if (job->calibration) {
        *field = calibration_field(reg, job->calibration, err);
        *read_path = *field ? strdup(job->calibration) : NULL;
    } else if (e->quant_calibration_set) {
        const char *c = e->quant_calibration_set;
        *read_path = c[0] == '/' ? strdup(c) : tq_path_join(reg->dir, c);
        *field = strdup(c);
    } else {
        return tq_fail(err, TQ_EINVAL, "%s: entry '%s': static mode needs a calibration set: "
                       "give --calibration CAL.npz or set quant_calibration_set",
                       job->registry, job->id);
    }
    if (!*read_path || !*field) {
        free(*read_path);
        free(*field);
        *read_path = *field = NULL;
        return err->code ? err->code : tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    return TQ_OK;
}

static int check_fp32_digest(const quantize_registry_job *job, const tq_registry_entry *e,
                             const char *fp32, tq_error *err)
{
    char hex[TQ_SHA256_HEX_LEN + 1];
    if (!e->sha256)
        return tq_fail(err, TQ_EFORMAT, "%s: entry '%s': sha256: missing", job->registry, job->id);
    int rc = tq_sha256_file(fp32, hex, err);
    if (rc)
        return rc;
    if (strcmp(hex, e->sha256) != 0)
        return tq_fail(err, TQ_EFORMAT, "%s: entry '%s': sha256: mismatch for %s (registry %s, "
                       "file %s); refusing to quantise a file the registry does not trust",
                       job->registry, job->id, fp32, e->sha256, hex);
    return TQ_OK;
}

/* Quantise, then record; on a failed record put the previous int8 file back. */
static int quantize_and_record(const quantize_registry_job *job, const char *fp32,
                               const char *int8, tq_quant_settings *s, const char *cal_read,
                               const char *cal_field, tq_quant_summary *sum, tq_error *err)
{
    uint8_t *old = NULL;
    size_t old_len = 0;
    int had_old = access(int8, F_OK) == 0;
    if (had_old) {
        int rc = tq_read_file(int8, &old, &old_len, err);
        if (rc)
            return rc;
    }
    int rc;
    tq_auto_settings *a = job->auto_settings;
    if (a) {
        a->calibration = cal_read;
        rc = tq_quantize_auto_file(fp32, int8, s, a, job->report, job->command_line, sum, err);
        if (!rc) {
            s->mode = a->chosen;
            if (s->mode == TQ_QUANT_DYNAMIC)
                cal_field = NULL; /* not used by the chosen mode */
        }
    } else {
        rc = tq_quantize_file(fp32, int8, s, cal_read, job->report, job->command_line, sum, err);
    }
    char hex[TQ_SHA256_HEX_LEN + 1];
    if (!rc) {
        rc = tq_sha256_file(int8, hex, err);
        if (!rc)
            rc = tq_registry_record_quant(job->registry, job->id, s->mode, hex, cal_field, err);
        if (rc) { /* undo: the registry still describes the previous int8 file */
            tq_error e2 = {0};
            if (had_old ? tq_write_file_atomic(int8, old, old_len, &e2) : unlink(int8))
                fprintf(stderr, "tinyq: warning: could not restore %s: %s\n", int8,
                        had_old ? e2.msg : strerror(errno));
        }
    }
    free(old);
    return rc;
}

int quantize_registry_entry(const quantize_registry_job *job, tq_quant_settings *s,
                            tq_quant_summary *sum, char **int8_path, tq_error *err)
{
    *int8_path = NULL;
    tq_registry *reg = NULL;
    int rc = tq_registry_open(&reg, job->registry, err);
    if (rc)
        return rc;
    char *fp32 = NULL, *int8 = NULL, *cal_read = NULL, *cal_field = NULL;
    tq_registry_entry e;
    int i = tq_registry_find(reg, job->id, err);
    rc = i < 0 ? i : tq_registry_entry_at(reg, i, &e);
    if (!rc && !e.onnx)
        rc = tq_fail(err, TQ_EFORMAT, "%s: entry '%s': onnx: missing or not a string",
                     job->registry, job->id);
    else if (!rc && !path_stays_inside(e.onnx))
        rc = tq_fail(err, TQ_EFORMAT, "%s: entry '%s': onnx: '%s' leaves the registry's folder",
                     job->registry, job->id, e.onnx);
    if (!rc) {
        fp32 = tq_registry_entry_file(reg, &e, ".onnx");
        int8 = tq_registry_entry_file(reg, &e, ".int8.onnx");
        if (!fp32 || !int8)
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    if (!rc && job->auto_settings) {
        /* Auto tries every mode against the entry's own budget; a calibration
         * set (given or the entry's) lets it try static. */
        if (!job->budget_given)
            job->auto_settings->budget = e.budget_plcc;
        tq_quant_mode keep = s->mode;
        s->mode = TQ_QUANT_STATIC;
        if (job->calibration || e.quant_calibration_set)
            rc = pick_calibration(job, reg, &e, s, &cal_read, &cal_field, err);
        s->mode = keep;
    } else {
        if (!rc)
            rc = pick_mode(job, &e, s, err);
        if (!rc)
            rc = pick_calibration(job, reg, &e, s, &cal_read, &cal_field, err);
    }
    if (!rc)
        rc = check_fp32_digest(job, &e, fp32, err);
    if (!rc)
        rc = quantize_and_record(job, fp32, int8, s, cal_read, cal_field, sum, err);
    if (!rc) {
        *int8_path = int8;
        int8 = NULL;
    }
    free(fp32);
    free(int8);
    free(cal_read);
    free(cal_field);
    tq_registry_close(&reg);
    return rc;
}
