/* .npz archives (a zip of .npy entries, stored or deflated) read and written
 * through libzip, entirely in memory so the write can be atomic. */
#include "io/npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#include "util/error.h"
#include "util/fileio.h"

/* Deflate cannot expand data by more than ~1032:1, so a larger declared size
 * is a lie (or a zip bomb) and is refused before allocating it. */
#define DEFLATE_MAX_RATIO 1040u

void tq_tensor_set_free(tq_tensor_set *set)
{
    if (!set)
        return;
    for (int i = 0; i < set->n; i++)
        tq_tensor_clear(&set->t[i]);
    free(set->t);
    set->t = NULL;
    set->n = 0;
}

const tq_tensor *tq_tensor_set_find(const tq_tensor_set *set, const char *name)
{
    for (int i = 0; i < set->n; i++)
        if (set->t[i].name && strcmp(set->t[i].name, name) == 0)
            return &set->t[i];
    return NULL;
}

/* Take ownership of *t (its name and data) on success. */
static int set_push(tq_tensor_set *set, tq_tensor *t)
{
    tq_tensor *grown = realloc(set->t, (size_t)(set->n + 1) * sizeof *grown);
    if (!grown)
        return TQ_ENOMEM;
    set->t = grown;
    set->t[set->n++] = *t;
    memset(t, 0, sizeof *t);
    return TQ_OK;
}

int tq_tensor_set_add(tq_tensor_set *set, const tq_tensor *t, tq_error *err)
{
    if (!t->name || !t->name[0])
        return tq_fail(err, TQ_EINVAL, "tensor set: a tensor has no name");
    if (tq_tensor_set_find(set, t->name))
        return tq_fail(err, TQ_EINVAL, "tensor set: duplicate name '%s'", t->name);
    tq_tensor copy;
    if (tq_tensor_copy(&copy, t))
        return tq_fail(err, TQ_ENOMEM, "tensor '%s': out of memory", t->name);
    if (set_push(set, &copy)) {
        tq_tensor_clear(&copy);
        return tq_fail(err, TQ_ENOMEM, "tensor '%s': out of memory", t->name);
    }
    return TQ_OK;
}

/* Read one archive entry completely, letting libzip verify its CRC. */
static int read_entry(zip_t *za, zip_uint64_t index, const zip_stat_t *st,
                      const char *file, const char *entry, uint8_t **data, size_t *len,
                      tq_error *err)
{
    *data = NULL;
    *len = 0;
    if (!(st->valid & ZIP_STAT_SIZE) || !(st->valid & ZIP_STAT_COMP_SIZE))
        return tq_fail(err, TQ_EFORMAT, "%s: entry '%s': size unknown", file, entry);
    if (st->comp_size > UINT64_MAX / DEFLATE_MAX_RATIO - 64 ||
        st->size > (zip_uint64_t)st->comp_size * DEFLATE_MAX_RATIO + 64 ||
        st->size > SIZE_MAX - 1)
        return tq_fail(err, TQ_EFORMAT,
                       "%s: entry '%s': declared size %llu is impossible for %llu "
                       "compressed bytes",
                       file, entry, (unsigned long long)st->size,
                       (unsigned long long)st->comp_size);
    zip_file_t *zf = zip_fopen_index(za, index, 0);
    if (!zf)
        return tq_fail(err, TQ_EFORMAT, "%s: entry '%s': cannot open: %s", file, entry,
                       zip_strerror(za));
    size_t n = (size_t)st->size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        zip_fclose(zf);
        return tq_fail(err, TQ_ENOMEM, "%s: entry '%s': out of memory for %zu bytes", file,
                       entry, n);
    }
    size_t got = 0;
    int rc = TQ_OK;
    /* Read one byte past the declared size: hitting the end is what makes
     * libzip check the CRC, and finding more data means the size lied. */
    while (got <= n) {
        zip_int64_t r = zip_fread(zf, buf + got, n + 1 - got);
        if (r < 0) {
            rc = tq_fail(err, TQ_EFORMAT, "%s: entry '%s': %s", file, entry,
                         zip_file_strerror(zf));
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (!rc && got != n)
        rc = tq_fail(err, TQ_EFORMAT, "%s: entry '%s': holds %zu%s bytes, header says %zu",
                     file, entry, got, got > n ? "+" : "", n);
    zip_fclose(zf);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return TQ_OK;
}

static int parse_archive(zip_t *za, const char *file, tq_tensor_set *out, tq_error *err)
{
    zip_int64_t count = zip_get_num_entries(za, 0);
    if (count < 0 || count > 1000000)
        return tq_fail(err, TQ_EFORMAT, "%s: bad zip entry count", file);
    for (zip_int64_t i = 0; i < count; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
            return tq_fail(err, TQ_EFORMAT, "%s: entry #%lld: unreadable: %s", file,
                           (long long)i, zip_strerror(za));
        const char *entry = st.name;
        size_t nlen = strlen(entry);
        if (nlen > 0 && entry[nlen - 1] == '/')
            continue; /* a folder record carries no data */
        if (nlen <= 4 || strcmp(entry + nlen - 4, ".npy") != 0)
            return tq_fail(err, TQ_EFORMAT, "%s: entry '%s': not an .npy array", file,
                           entry);
        char *key = strndup(entry, nlen - 4);
        if (!key)
            return tq_fail(err, TQ_ENOMEM, "%s: out of memory", file);
        if (tq_tensor_set_find(out, key)) {
            int rc = tq_fail(err, TQ_EFORMAT, "%s: entry '%s': duplicate key", file, key);
            free(key);
            return rc;
        }
        uint8_t *data;
        size_t len;
        int rc = read_entry(za, (zip_uint64_t)i, &st, file, key, &data, &len, err);
        if (rc) {
            free(key);
            return rc;
        }
        char where[1100];
        snprintf(where, sizeof where, "%s: entry '%s'", file, key);
        tq_tensor t;
        rc = tq_npy_parse(data, len, where, &t, err);
        free(data);
        if (rc) {
            free(key);
            return rc;
        }
        t.name = key;
        if (set_push(out, &t)) {
            tq_tensor_clear(&t);
            return tq_fail(err, TQ_ENOMEM, "%s: out of memory", file);
        }
    }
    return TQ_OK;
}

int tq_npz_parse(const void *buf, size_t len, const char *file, tq_tensor_set *out,
                 tq_error *err)
{
    out->t = NULL;
    out->n = 0;
    /* libzip would open an empty buffer as an empty archive; numpy calls it an error. */
    if (len == 0)
        return tq_fail(err, TQ_EFORMAT, "%s: empty file, not an .npz archive", file);
    zip_error_t zerr;
    zip_error_init(&zerr);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &zerr);
    if (!src) {
        zip_error_fini(&zerr);
        return tq_fail(err, TQ_ENOMEM, "%s: cannot wrap buffer for libzip", file);
    }
    /* ZIP_CHECKCONS makes libzip compare the central directory against the
     * local headers, catching truncated and spliced archives early. */
    /* A failed open leaves src to us, so it can be reused for the retry. */
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!za && zip_error_code_zip(&zerr) == ZIP_ER_EXISTS) {
        /* The consistency check refuses duplicate names without saying which;
         * open leniently so parse_archive can name the duplicated key. */
        zip_error_fini(&zerr);
        zip_error_init(&zerr);
        za = zip_open_from_source(src, ZIP_RDONLY, &zerr);
    }
    if (!za) {
        int rc = tq_fail(err, TQ_EFORMAT, "%s: not a valid .npz (zip) file: %s", file,
                         zip_error_strerror(&zerr));
        zip_source_free(src);
        zip_error_fini(&zerr);
        return rc;
    }
    zip_error_fini(&zerr);
    int rc = parse_archive(za, file, out, err);
    zip_discard(za); /* also frees src */
    if (rc)
        tq_tensor_set_free(out);
    return rc;
}

int tq_npz_read(const char *path, tq_tensor_set *out, tq_error *err)
{
    uint8_t *buf;
    size_t len;
    out->t = NULL;
    out->n = 0;
    int rc = tq_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = tq_npz_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

/* Copy the finished in-memory archive out of its libzip source. */
static int source_bytes(zip_source_t *src, const char *path, uint8_t **data, size_t *len,
                        tq_error *err)
{
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_stat(src, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return tq_fail(err, TQ_EINTERNAL, "%s: cannot size the written archive", path);
    if (zip_source_open(src) != 0)
        return tq_fail(err, TQ_EINTERNAL, "%s: cannot reopen the written archive", path);
    size_t n = (size_t)st.size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        zip_source_close(src);
        return tq_fail(err, TQ_ENOMEM, "%s: out of memory", path);
    }
    zip_int64_t r = zip_source_read(src, buf, n);
    zip_source_close(src);
    if (r < 0 || (size_t)r != n) {
        free(buf);
        return tq_fail(err, TQ_EINTERNAL, "%s: cannot read back the written archive", path);
    }
    *data = buf;
    *len = n;
    return TQ_OK;
}

static int add_entry(zip_t *za, const tq_tensor *t, int compress, const char *path,
                     tq_error *err)
{
    uint8_t *npy;
    size_t npy_len;
    int rc = tq_npy_encode(t, &npy, &npy_len, err);
    if (rc) {
        tq_error_prefix(err, "%s: ", path);
        return rc;
    }
    zip_source_t *s = zip_source_buffer(za, npy, npy_len, 1);
    if (!s) {
        free(npy);
        return tq_fail(err, TQ_ENOMEM, "%s: entry '%s': %s", path, t->name, zip_strerror(za));
    }
    char entry[1024];
    if ((size_t)snprintf(entry, sizeof entry, "%s.npy", t->name) >= sizeof entry) {
        zip_source_free(s);
        return tq_fail(err, TQ_EINVAL, "%s: entry '%s': name too long", path, t->name);
    }
    zip_int64_t idx = zip_file_add(za, entry, s, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
        zip_source_free(s);
        return tq_fail(err, TQ_EINTERNAL, "%s: entry '%s': %s", path, t->name,
                       zip_strerror(za));
    }
    /* A fixed timestamp (numpy uses 1980-01-01 too) keeps outputs reproducible. */
    struct tm epoch = {.tm_year = 80, .tm_mon = 0, .tm_mday = 1, .tm_isdst = -1};
    if (zip_set_file_compression(za, (zip_uint64_t)idx,
                                 compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_mtime(za, (zip_uint64_t)idx, mktime(&epoch), 0) != 0)
        return tq_fail(err, TQ_EINTERNAL, "%s: entry '%s': %s", path, t->name,
                       zip_strerror(za));
    return TQ_OK;
}

int tq_npz_write(const char *path, const tq_tensor_set *set, int compress, tq_error *err)
{
    for (int i = 0; i < set->n; i++) {
        if (!set->t[i].name || !set->t[i].name[0])
            return tq_fail(err, TQ_EINVAL, "%s: tensor #%d has no name", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(set->t[i].name, set->t[j].name) == 0)
                return tq_fail(err, TQ_EINVAL, "%s: duplicate tensor name '%s'", path,
                               set->t[i].name);
    }
    if (set->n == 0) {
        /* libzip deletes an archive left empty instead of writing one; an
         * empty zip is just its end-of-central-directory record (what
         * np.savez() with no arrays writes). */
        static const uint8_t empty_zip[22] = {'P', 'K', 5, 6};
        return tq_write_file_atomic(path, empty_zip, sizeof empty_zip, err);
    }
    zip_error_t zerr;
    zip_error_init(&zerr);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &zerr);
    zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &zerr) : NULL;
    if (!za) {
        int rc = tq_fail(err, TQ_EINTERNAL, "%s: cannot create archive: %s", path,
                         zip_error_strerror(&zerr));
        if (src)
            zip_source_free(src);
        zip_error_fini(&zerr);
        return rc;
    }
    zip_error_fini(&zerr);
    /* Keep the source alive past zip_close, which is when the bytes land in it. */
    zip_source_keep(src);
    int rc = TQ_OK;
    for (int i = 0; i < set->n && !rc; i++)
        rc = add_entry(za, &set->t[i], compress, path, err);
    if (rc) {
        zip_discard(za);
        zip_source_free(src);
        return rc;
    }
    if (zip_close(za) != 0) {
        rc = tq_fail(err, TQ_EINTERNAL, "%s: cannot finish archive: %s", path,
                     zip_strerror(za));
        zip_discard(za);
        zip_source_free(src);
        return rc;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    rc = source_bytes(src, path, &bytes, &len, err);
    zip_source_free(src);
    if (rc)
        return rc;
    rc = tq_write_file_atomic(path, bytes, len, err);
    free(bytes);
    return rc;
}
