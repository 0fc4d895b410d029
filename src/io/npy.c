/* .npy images: a strict reader of the header (a Python dict literal, not
 * JSON) and a writer that reproduces numpy's np.save layout byte for byte. */
#include "io/npz.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy refuses headers over 10000 bytes unless told otherwise; ours only
 * describe plain arrays, so anything longer is garbage or an attack. */
#define NPY_MAX_HEADER 10000
#define NPY_ALIGN 64
/* numpy >= 1.24 leaves room after the dict so the first axis can grow in place. */
#define NPY_GROWTH_AXIS_MAX_DIGITS 21

/* --- dtype descriptors ------------------------------------------------- */

typedef struct npy_type {
    const char *code; /* type code without byte-order char */
    tq_dtype dtype;
} npy_type;

static const npy_type npy_types[] = {
    {"f4", TQ_FLOAT}, {"f2", TQ_FLOAT16}, {"f8", TQ_DOUBLE},
    {"i8", TQ_INT64}, {"i4", TQ_INT32},   {"i2", TQ_INT16},   {"i1", TQ_INT8},
    {"u8", TQ_UINT64}, {"u4", TQ_UINT32}, {"u2", TQ_UINT16},  {"u1", TQ_UINT8},
    {"b1", TQ_BOOL},
};

/* Map a descr string to a dtype; sets *big_endian when that is the only problem. */
static tq_dtype descr_to_dtype(const char *descr, int *big_endian)
{
    *big_endian = 0;
    char order = descr[0];
    const char *code = descr + 1;
    if (order != '<' && order != '>' && order != '|' && order != '=') {
        order = '\0'; /* np.dtype() takes a bare code such as 'u1' too */
        code = descr;
    }
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (strcmp(code, npy_types[i].code) != 0)
            continue;
        size_t size = tq_dtype_size(npy_types[i].dtype);
        if (size == 1)
            return npy_types[i].dtype; /* byte order is meaningless for one byte */
        /* '|' means "not applicable", which is wrong for multi-byte types;
         * '=' and bare codes mean "native", which a file cannot rely on. */
        if (order == '>') {
            *big_endian = 1;
            return TQ_UNDEFINED;
        }
        return order == '<' ? npy_types[i].dtype : TQ_UNDEFINED;
    }
    return TQ_UNDEFINED;
}

static const char *dtype_to_descr(tq_dtype t)
{
    switch (t) {
    case TQ_FLOAT: return "<f4";
    case TQ_FLOAT16: return "<f2";
    case TQ_DOUBLE: return "<f8";
    case TQ_INT64: return "<i8";
    case TQ_INT32: return "<i4";
    case TQ_INT16: return "<i2";
    case TQ_INT8: return "|i1";
    case TQ_UINT64: return "<u8";
    case TQ_UINT32: return "<u4";
    case TQ_UINT16: return "<u2";
    case TQ_UINT8: return "|u1";
    case TQ_BOOL: return "|b1";
    default: return NULL;
    }
}

/* --- header dict parser ------------------------------------------------ */

typedef struct hdr_cursor {
    const char *p, *start, *end;
    const char *name; /* for messages */
    tq_error *err;
} hdr_cursor;

typedef struct npy_header {
    char descr[32];
    int fortran_order;
    int rank;
    int64_t dims[TQ_MAX_RANK];
} npy_header;

static int hdr_error(hdr_cursor *c, const char *what)
{
    return tq_fail(c->err, TQ_EFORMAT, "%s: malformed npy header at byte %td: %s",
                   c->name, c->p - c->start, what);
}

static void skip_ws(hdr_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(hdr_cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int accept_word(hdr_cursor *c, const char *word)
{
    skip_ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes (numpy never writes escapes in the keys
 * or type codes we accept). */
static int parse_string(hdr_cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return hdr_error(c, "expected a quoted string");
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || *c->p == '\n')
            return hdr_error(c, "unexpected character in string");
        if (n + 1 >= cap)
            return hdr_error(c, "string too long");
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return hdr_error(c, "unterminated string");
    c->p++;
    out[n] = '\0';
    return TQ_OK;
}

static int parse_dim(hdr_cursor *c, int64_t *out)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return hdr_error(c, "expected a non-negative integer in shape");
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p++ - '0';
        if (v > (INT64_MAX - d) / 10)
            return hdr_error(c, "shape dimension overflows int64");
        v = v * 10 + d;
    }
    /* Python 2 wrote longs as "3L"; numpy still reads such files. */
    if (c->p < c->end && *c->p == 'L')
        c->p++;
    *out = v;
    return TQ_OK;
}

/* A Python tuple of ints: "()", "(3,)", "(2, 3)", "(2, 3,)". */
static int parse_shape(hdr_cursor *c, npy_header *h)
{
    if (!accept(c, '('))
        return hdr_error(c, "shape must be a tuple");
    h->rank = 0;
    if (accept(c, ')'))
        return TQ_OK;
    for (;;) {
        int64_t d = 0;
        int rc = parse_dim(c, &d);
        if (rc)
            return rc;
        if (h->rank == TQ_MAX_RANK)
            return tq_fail(c->err, TQ_EFORMAT, "%s: rank exceeds the maximum of %d",
                           c->name, TQ_MAX_RANK);
        h->dims[h->rank++] = d;
        int comma = accept(c, ',');
        if (accept(c, ')')) {
            /* "(5)" is an int in Python, not a tuple */
            if (h->rank == 1 && !comma)
                return hdr_error(c, "shape must be a tuple (missing ',')");
            return TQ_OK;
        }
        if (!comma)
            return hdr_error(c, "expected ',' or ')' in shape");
    }
}

static int parse_header_dict(hdr_cursor *c, npy_header *h)
{
    int seen_descr = 0, seen_order = 0, seen_shape = 0;
    if (!accept(c, '{'))
        return hdr_error(c, "expected '{'");
    while (!accept(c, '}')) {
        char key[32];
        int rc = parse_string(c, key, sizeof key);
        if (rc)
            return rc;
        if (!accept(c, ':'))
            return hdr_error(c, "expected ':'");
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            skip_ws(c);
            if (c->p < c->end && *c->p == '[')
                return tq_fail(c->err, TQ_EFORMAT,
                               "%s: structured dtypes are not supported", c->name);
            if ((rc = parse_string(c, h->descr, sizeof h->descr)))
                return rc;
            seen_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            if (accept_word(c, "True"))
                h->fortran_order = 1;
            else if (accept_word(c, "False"))
                h->fortran_order = 0;
            else
                return hdr_error(c, "fortran_order must be True or False");
            seen_order = 1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            if ((rc = parse_shape(c, h)))
                return rc;
            seen_shape = 1;
        } else {
            return tq_fail(c->err, TQ_EFORMAT, "%s: malformed npy header: %s key '%s'",
                           c->name,
                           strcmp(key, "descr") && strcmp(key, "fortran_order") &&
                                   strcmp(key, "shape") ? "unexpected" : "duplicate",
                           key);
        }
        if (accept(c, ','))
            continue;
        if (accept(c, '}'))
            break;
        return hdr_error(c, "expected ',' or '}'");
    }
    skip_ws(c);
    if (c->p != c->end)
        return hdr_error(c, "trailing characters after the header dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return tq_fail(c->err, TQ_EFORMAT,
                       "%s: malformed npy header: missing key '%s'", c->name,
                       !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    return TQ_OK;
}

static void format_shape(const int64_t *dims, int rank, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "(");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, i ? ", %" PRId64 : "%" PRId64, dims[i]);
    if (n < cap)
        snprintf(out + n, cap - n, rank == 1 ? ",)" : ")");
}

int tq_npy_parse(const uint8_t *buf, size_t len, const char *name, tq_tensor *out,
                 tq_error *err)
{
    memset(out, 0, sizeof *out);
    if (len < NPY_MAGIC_LEN + 2 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return tq_fail(err, TQ_EFORMAT, "%s: not an .npy array (bad magic)", name);
    int major = buf[6], minor = buf[7];
    size_t prefix, hlen;
    if (major == 1 && minor == 0) {
        prefix = 10;
        if (len < prefix)
            return tq_fail(err, TQ_EFORMAT, "%s: truncated npy header", name);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        prefix = 12;
        if (len < prefix)
            return tq_fail(err, TQ_EFORMAT, "%s: truncated npy header", name);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
    } else {
        return tq_fail(err, TQ_EFORMAT, "%s: unsupported npy format version %d.%d",
                       name, major, minor);
    }
    if (hlen > NPY_MAX_HEADER)
        return tq_fail(err, TQ_EFORMAT, "%s: npy header of %zu bytes is longer than %d",
                       name, hlen, NPY_MAX_HEADER);
    if (len - prefix < hlen)
        return tq_fail(err, TQ_EFORMAT, "%s: truncated npy header (%zu of %zu bytes)",
                       name, len - prefix, hlen);

    npy_header h;
    memset(&h, 0, sizeof h);
    hdr_cursor c = {(const char *)buf + prefix, (const char *)buf + prefix,
                    (const char *)buf + prefix + hlen, name, err};
    int rc = parse_header_dict(&c, &h);
    if (rc)
        return rc;

    int big_endian;
    tq_dtype dtype = descr_to_dtype(h.descr, &big_endian);
    if (big_endian)
        return tq_fail(err, TQ_EFORMAT, "%s: big-endian dtype '%s' is not supported",
                       name, h.descr);
    if (dtype == TQ_UNDEFINED)
        return tq_fail(err, TQ_EFORMAT, "%s: unsupported dtype '%s'", name, h.descr);
    if (h.fortran_order) {
        /* Rank <= 1 arrays are identical in both orders, but numpy only writes
         * fortran_order True for genuinely column-major data; refuse it all. */
        return tq_fail(err, TQ_EFORMAT,
                       "%s: fortran_order arrays are not supported (save a C-ordered copy)",
                       name);
    }

    char shape_txt[256];
    format_shape(h.dims, h.rank, shape_txt, sizeof shape_txt);
    size_t esize = tq_dtype_size(dtype);
    int64_t numel = tq_shape_numel(h.dims, h.rank);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / esize)
        return tq_fail(err, TQ_EFORMAT, "%s: shape %s overflows", name, shape_txt);
    size_t need = (size_t)numel * esize;
    size_t have = len - prefix - hlen;
    if (have != need)
        return tq_fail(err, TQ_EFORMAT,
                       "%s: data is %zu bytes but shape %s of '%s' needs %zu", name, have,
                       shape_txt, h.descr, need);

    out->dtype = dtype;
    out->rank = h.rank;
    memcpy(out->dims, h.dims, sizeof h.dims);
    out->nbytes = need;
    if (need) {
        out->data = malloc(need);
        if (!out->data)
            return tq_fail(err, TQ_ENOMEM, "%s: out of memory for %zu bytes", name, need);
        memcpy(out->data, buf + prefix + hlen, need);
    }
    return TQ_OK;
}

/* --- writer ------------------------------------------------------------ */

int tq_npy_encode(const tq_tensor *t, uint8_t **buf, size_t *len, tq_error *err)
{
    *buf = NULL;
    *len = 0;
    const char *tname = t->name ? t->name : "(unnamed)";
    const char *descr = dtype_to_descr(t->dtype);
    if (!descr)
        return tq_fail(err, TQ_EUNSUPPORTED, "tensor '%s': dtype %s cannot be saved as .npy",
                       tname, tq_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > TQ_MAX_RANK)
        return tq_fail(err, TQ_EINVAL, "tensor '%s': bad rank %d", tname, t->rank);
    int64_t numel = tq_tensor_numel(t);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / tq_dtype_size(t->dtype) ||
        (size_t)numel * tq_dtype_size(t->dtype) != t->nbytes || (t->nbytes && !t->data))
        return tq_fail(err, TQ_EINVAL, "tensor '%s': %zu data bytes do not match its shape",
                       tname, t->nbytes);

    /* Same text as numpy's _write_array_header: sorted keys, repr() values,
     * growth padding, then spaces and '\n' up to a multiple of 64 bytes. */
    char header[512];
    char shape_txt[256];
    format_shape(t->dims, t->rank, shape_txt, sizeof shape_txt);
    int n = snprintf(header, sizeof header,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
                     shape_txt);
    if (t->rank > 0) {
        char first[32];
        int digits = snprintf(first, sizeof first, "%" PRId64, t->dims[0]);
        for (int i = digits; i < NPY_GROWTH_AXIS_MAX_DIGITS; i++)
            header[n++] = ' ';
    }
    size_t hlen = (size_t)n + 1; /* + '\n' */
    size_t pad = NPY_ALIGN - ((NPY_MAGIC_LEN + 2 + 2 + hlen) % NPY_ALIGN);
    size_t total_header = hlen + pad;
    size_t prefix = NPY_MAGIC_LEN + 4;
    uint8_t *out = malloc(prefix + total_header + t->nbytes);
    if (!out)
        return tq_fail(err, TQ_ENOMEM, "tensor '%s': out of memory", tname);
    memcpy(out, NPY_MAGIC, NPY_MAGIC_LEN);
    out[6] = 1;
    out[7] = 0;
    out[8] = (uint8_t)(total_header & 0xff);
    out[9] = (uint8_t)(total_header >> 8);
    memcpy(out + prefix, header, (size_t)n);
    memset(out + prefix + n, ' ', pad);
    out[prefix + total_header - 1] = '\n';
    if (t->nbytes)
        memcpy(out + prefix + total_header, t->data, t->nbytes);
    *buf = out;
    *len = prefix + total_header + t->nbytes;
    return TQ_OK;
}

int tq_npy_read(const char *path, tq_tensor *out, tq_error *err)
{
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = tq_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = tq_npy_parse(buf, len, path, out, err);
    free(buf);
    if (rc)
        return rc;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".npy") == 0)
        n -= 4;
    out->name = strndup(base, n);
    if (!out->name) {
        tq_tensor_clear(out);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
    }
    return TQ_OK;
}

int tq_npy_write(const char *path, const tq_tensor *t, tq_error *err)
{
    uint8_t *buf;
    size_t len;
    int rc = tq_npy_encode(t, &buf, &len, err);
    if (rc) {
        tq_error_prefix(err, "%s: ", path);
        return rc;
    }
    rc = tq_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}
