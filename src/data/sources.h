/* Reading one calibration source (.npy, .npz, .csv, .jsonl) into named
 * sample stacks [rows, ...] plus an optional per-row stratification label.
 * Every malformed source fails with TQ_EFORMAT (or TQ_EIO when unreadable)
 * and a message that starts with the file name. */
#ifndef TQ_DATA_SOURCES_H
#define TQ_DATA_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "io/npz.h"

typedef struct tq_source_request {
    const char *const *keys; /* entries / columns / fields to take; NULL = the default */
    int n_keys;
    const char *label_key;   /* stratification key, NULL = none */
    const char *input_name;  /* output name for tables (csv/jsonl/npy); NULL = "input" */
} tq_source_request;

typedef struct tq_source {
    tq_tensor_set stacks; /* one [rows, ...] tensor per output name */
    int64_t rows;
    double *labels;       /* rows values when label_key was given, else NULL */
} tq_source;

/* Read `path` (kind picked by extension). Defaults: npz = every entry but the
 * label; csv = every column but the label; jsonl = every number / number-array
 * field of the first row but the label (strings such as names are skipped).
 * Table sources give one float32 stack [rows, width] (or the array's own shape
 * when a single array field is taken); npz/npy stacks keep their dtype. */
int tq_source_read(const char *path, const tq_source_request *req, tq_source *out,
                   tq_error *err);
void tq_source_free(tq_source *s);

/* Internal: the row accumulator the table readers (csv.c, jsonl.c) share. */
typedef struct tq_row_table {
    float *v;
    size_t n, cap;
    double *labels;
    size_t rows, labels_cap;
} tq_row_table;
int tq_row_table_push(tq_row_table *t, float x);
int tq_row_table_push_label(tq_row_table *t, double label);
/* Hand the rows over as one float32 stack named `name` with sample shape
 * shape[0..rank) (the row width when rank == 1); frees nothing on failure. */
int tq_row_table_finish(tq_row_table *t, const char *name, const int64_t *shape, int rank,
                        int has_labels, tq_source *out, tq_error *err);
void tq_row_table_free(tq_row_table *t);

/* Internal readers, one file each (csv.c, jsonl.c). */
int tq_source_read_csv(const char *path, const tq_source_request *req, tq_source *out,
                       tq_error *err);
int tq_source_read_jsonl(const char *path, const tq_source_request *req, tq_source *out,
                         tq_error *err);

#endif
