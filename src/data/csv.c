/* CSV calibration source: a header line of column names, then one sample per
 * line. Selected columns must hold finite numbers; other columns (names,
 * comments) may hold anything. Fields may be double-quoted ("" escapes a
 * quote) so text columns with commas do not shift the numeric ones. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/sources.h"
#include "util/error.h"
#include "util/fileio.h"

#define MAX_COLUMNS 4096

/* Split one line (NUL-terminated, modified in place) into fields; returns the
 * field count, or -1 on an unterminated quote. */
static int split_fields(char *line, char **fields, int cap)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *start = p, *w = p;
        if (*p == '"') {
            start = w = ++p;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else
                    *w++ = *p++;
            }
            while (*p && *p != ',')
                p++;
        } else {
            while (*p && *p != ',')
                p++;
            w = p;
            while (w > start && (w[-1] == ' ' || w[-1] == '\t'))
                w--;
        }
        char sep = *p;
        *w = '\0';
        if (n < cap)
            fields[n] = start;
        n++;
        if (sep != ',')
            return n;
        p++;
    }
}

static int parse_number(const char *s, double *x)
{
    char *end;
    if (!*s)
        return -1;
    *x = strtod(s, &end);
    return *end ? -1 : 0;
}

int tq_source_read_csv(const char *path, const tq_source_request *req, tq_source *out,
                       tq_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = tq_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    char **header = calloc(MAX_COLUMNS, sizeof *header);
    char **fields = calloc(MAX_COLUMNS, sizeof *fields);
    int *cols = calloc(MAX_COLUMNS, sizeof *cols);
    tq_row_table table = {0};
    if (!header || !fields || !cols)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    int n_header = 0, n_cols = 0, label_col = -1, line_no = 0;
    char *next = (char *)buf;
    while (!rc && next && *next) {
        char *line = next;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (strspn(line, " \t") == l)
            continue;
        if (!n_header) {
            n_header = split_fields(line, header, MAX_COLUMNS);
            if (n_header < 0 || n_header > MAX_COLUMNS) {
                rc = tq_fail(err, TQ_EFORMAT, "%s: header: unterminated quote or over %d columns",
                             path, MAX_COLUMNS);
                break;
            }
            for (int c = 0; c < n_header; c++)
                if (req->label_key && !strcmp(header[c], req->label_key))
                    label_col = c;
            if (req->label_key && label_col < 0)
                rc = tq_fail(err, TQ_EFORMAT, "%s: no column '%s' to stratify by", path,
                             req->label_key);
            for (int k = 0; !rc && k < req->n_keys; k++) {
                int c = 0;
                while (c < n_header && strcmp(header[c], req->keys[k]))
                    c++;
                if (c == n_header)
                    rc = tq_fail(err, TQ_EFORMAT, "%s: no column '%s' in the header", path,
                                 req->keys[k]);
                cols[n_cols++] = c;
            }
            for (int c = 0; !rc && !req->keys && c < n_header; c++)
                if (c != label_col)
                    cols[n_cols++] = c;
            if (!rc && n_cols == 0)
                rc = tq_fail(err, TQ_EFORMAT, "%s: no sample columns besides the label", path);
            continue;
        }
        int n = split_fields(line, fields, MAX_COLUMNS);
        if (n != n_header) {
            rc = n < 0 ? tq_fail(err, TQ_EFORMAT, "%s: line %d: unterminated quote", path, line_no)
                       : tq_fail(err, TQ_EFORMAT, "%s: line %d: %d fields, the header has %d (ragged)",
                                 path, line_no, n, n_header);
            break;
        }
        for (int k = 0; !rc && k <= n_cols; k++) {
            int c = k < n_cols ? cols[k] : label_col;
            if (c < 0)
                break;
            double x;
            if (parse_number(fields[c], &x))
                rc = tq_fail(err, TQ_EFORMAT, "%s: line %d: column '%s': '%s' is not a number",
                             path, line_no, header[c], fields[c]);
            else if (!isfinite(x) || (k < n_cols && !isfinite((float)x)))
                rc = tq_fail(err, TQ_EFORMAT, "%s: line %d: column '%s': NaN or Inf", path,
                             line_no, header[c]);
            else if (k < n_cols ? tq_row_table_push(&table, (float)x)
                                : tq_row_table_push_label(&table, x))
                rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        }
        if (!rc)
            table.rows++;
    }
    if (!rc && !n_header)
        rc = tq_fail(err, TQ_EFORMAT, "%s: empty (no header line)", path);
    if (!rc) {
        int64_t width = n_cols;
        rc = tq_row_table_finish(&table, req->input_name ? req->input_name : "input", &width, 1,
                                 label_col >= 0, out, err);
    }
    tq_row_table_free(&table);
    free(header);
    free(fields);
    free(cols);
    free(buf);
    return rc;
}
