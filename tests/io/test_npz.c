/* .npy/.npz against numpy both ways: numpy writes (np.save, np.savez,
 * np.savez_compressed, format 2.0/3.0) and we read; we write and numpy's
 * np.load reads (and our .npy must equal np.save byte for byte). Then every
 * kind of malformed input must fail cleanly with a message naming file and entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "io/npz.h"
#include "io_test_util.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/pcg64.h"

typedef struct dtype_case {
    const char *numpy_name, *descr;
    tq_dtype dtype;
} dtype_case;

/* The numpy side of this table lives in numpy_npz_ref.py (DTYPES). */
static const dtype_case dtype_cases[] = {
    {"float32", "<f4", TQ_FLOAT},  {"float16", "<f2", TQ_FLOAT16}, {"float64", "<f8", TQ_DOUBLE},
    {"int64", "<i8", TQ_INT64},    {"int32", "<i4", TQ_INT32},     {"int16", "<i2", TQ_INT16},
    {"int8", "|i1", TQ_INT8},      {"uint64", "<u8", TQ_UINT64},   {"uint32", "<u4", TQ_UINT32},
    {"uint16", "<u2", TQ_UINT16},  {"uint8", "|u1", TQ_UINT8},     {"bool", "|b1", TQ_BOOL},
};
#define N_DTYPES (sizeof dtype_cases / sizeof dtype_cases[0])

typedef struct shape_case {
    const char *name;
    int rank;
    int64_t dims[4];
} shape_case;

static const shape_case shape_cases[] = {
    {"r0", 0, {0}}, {"r1", 1, {7}}, {"r4", 4, {2, 3, 4, 5}}, {"empty", 2, {0, 3}},
};
#define N_SHAPES (sizeof shape_cases / sizeof shape_cases[0])

static char *scratch;

static int setup(void **state)
{
    (void)state;
    scratch = make_tmpdir();
    return scratch ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_tree(scratch);
    free(scratch);
    return 0;
}

/* Same values as numpy_npz_ref.py pattern(). */
static void fill_pattern(tq_tensor *t, tq_dtype dtype, const shape_case *s, const char *name)
{
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->dtype = dtype;
    t->rank = s->rank;
    memcpy(t->dims, s->dims, sizeof s->dims);
    int64_t n = tq_tensor_numel(t);
    t->nbytes = (size_t)n * tq_dtype_size(dtype);
    t->data = n ? malloc(t->nbytes) : NULL;
    for (int64_t i = 0; i < n; i++) {
        int64_t base = (i * 37) % 199 - 99;
        switch (dtype) {
        case TQ_FLOAT: ((float *)t->data)[i] = (float)base / 8.0f; break;
        case TQ_FLOAT16: ((uint16_t *)t->data)[i] = tq_float_to_half((float)base / 8.0f); break;
        case TQ_DOUBLE: ((double *)t->data)[i] = (double)base / 8.0; break;
        case TQ_INT64: ((int64_t *)t->data)[i] = base; break;
        case TQ_INT32: ((int32_t *)t->data)[i] = (int32_t)base; break;
        case TQ_INT16: ((int16_t *)t->data)[i] = (int16_t)base; break;
        case TQ_INT8: ((int8_t *)t->data)[i] = (int8_t)base; break;
        case TQ_UINT64: ((uint64_t *)t->data)[i] = (uint64_t)(base + 99); break;
        case TQ_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)(base + 99); break;
        case TQ_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)(base + 99); break;
        case TQ_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)(base + 99); break;
        case TQ_BOOL: ((uint8_t *)t->data)[i] = base > 0; break;
        default: fail();
        }
    }
}

static char *path_in(const char *dir, const char *rel)
{
    static char buf[4][8192];
    static int next;
    char *p = buf[next++ & 3];
    if ((size_t)snprintf(p, sizeof buf[0], "%s/%s", dir, rel) >= sizeof buf[0])
        fail_msg("path too long");
    return p;
}

static void run_numpy_ref(const char *mode, const char *dir)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, TQ_TEST_PYTHON " '%s/tests/io/numpy_npz_ref.py' %s '%s' 2>&1",
             source_root(), mode, dir);
    int status;
    char *out = run_capture(cmd, &status);
    assert_non_null(out);
    if (status != 0)
        fail_msg("numpy_npz_ref.py %s failed (%d):\n%s", mode, status, out);
    printf("%s", out);
    free(out);
}

static const char *numpy_dir(void)
{
    static char dir[4096];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/numpy", scratch);
        mkdir(dir, 0755);
        run_numpy_ref("make", dir);
    }
    return dir;
}

static void test_read_numpy_files(void **state)
{
    (void)state;
    if (!have_numpy())
        skip();
    const char *dir = numpy_dir();
    FILE *man = fopen(path_in(dir, "manifest.txt"), "r");
    assert_non_null(man);
    char line[1024];
    int checked = 0;
    while (fgets(line, sizeof line, man)) {
        char container[512], key[128], descr[16];
        int rank, used;
        assert_int_equal(sscanf(line, "%511s %127s %15s %d%n", container, key, descr, &rank,
                                &used), 4);
        int64_t dims[8];
        char *p = line + used;
        for (int i = 0; i < rank; i++)
            dims[i] = strtoll(p, &p, 10);
        tq_dtype want = TQ_UNDEFINED;
        for (size_t i = 0; i < N_DTYPES; i++)
            if (!strcmp(dtype_cases[i].descr, descr))
                want = dtype_cases[i].dtype;
        assert_int_not_equal(want, TQ_UNDEFINED);

        tq_error err = {0};
        tq_tensor_set set = {0};
        tq_tensor single = {0};
        const tq_tensor *t;
        size_t clen = strlen(container);
        if (!strcmp(container + clen - 4, ".npz")) {
            if (tq_npz_read(path_in(dir, container), &set, &err))
                fail_msg("%s", err.msg);
            t = tq_tensor_set_find(&set, key);
        } else {
            if (tq_npy_read(path_in(dir, container), &single, &err))
                fail_msg("%s", err.msg);
            assert_string_equal(single.name, key);
            t = &single;
        }
        if (!t)
            fail_msg("%s: key %s missing", container, key);
        assert_int_equal(t->dtype, want);
        assert_int_equal(t->rank, rank);
        for (int i = 0; i < rank; i++)
            assert_int_equal(t->dims[i], dims[i]);
        uint8_t *raw;
        size_t raw_len;
        char rel[256];
        snprintf(rel, sizeof rel, "raw/%s.raw", key);
        assert_int_equal(tq_read_file(path_in(dir, rel), &raw, &raw_len, &err), TQ_OK);
        assert_int_equal(t->nbytes, raw_len);
        if (raw_len)
            assert_memory_equal(t->data, raw, raw_len);
        free(raw);
        tq_tensor_set_free(&set);
        tq_tensor_clear(&single);
        checked++;
    }
    fclose(man);
    assert_int_equal(checked, (int)(5 * N_DTYPES * N_SHAPES));
}

static void make_pattern_set(tq_tensor_set *set)
{
    memset(set, 0, sizeof *set);
    for (size_t d = 0; d < N_DTYPES; d++) {
        for (size_t s = 0; s < N_SHAPES; s++) {
            char key[64];
            snprintf(key, sizeof key, "%s_%s", dtype_cases[d].numpy_name, shape_cases[s].name);
            tq_tensor t;
            fill_pattern(&t, dtype_cases[d].dtype, &shape_cases[s], key);
            tq_error err = {0};
            assert_int_equal(tq_tensor_set_add(set, &t, &err), TQ_OK);
            tq_tensor_clear(&t);
        }
    }
}

static void test_numpy_reads_ours(void **state)
{
    (void)state;
    if (!have_numpy())
        skip();
    char ours[4096], npydir[4200];
    snprintf(ours, sizeof ours, "%s/ours", scratch);
    snprintf(npydir, sizeof npydir, "%s/npy", ours);
    assert_int_equal(mkdir(ours, 0755), 0);
    assert_int_equal(mkdir(npydir, 0755), 0);
    tq_tensor_set set;
    make_pattern_set(&set);
    tq_error err = {0};
    if (tq_npz_write(path_in(ours, "stored.npz"), &set, 0, &err) ||
        tq_npz_write(path_in(ours, "deflated.npz"), &set, 1, &err))
        fail_msg("%s", err.msg);
    for (int i = 0; i < set.n; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s.npy", set.t[i].name);
        if (tq_npy_write(path_in(npydir, rel), &set.t[i], &err))
            fail_msg("%s", err.msg);
    }
    run_numpy_ref("check", scratch);

    /* and we read back what we wrote, identically */
    for (int c = 0; c < 2; c++) {
        tq_tensor_set back;
        if (tq_npz_read(path_in(ours, c ? "deflated.npz" : "stored.npz"), &back, &err))
            fail_msg("%s", err.msg);
        assert_int_equal(back.n, set.n);
        for (int i = 0; i < set.n; i++) {
            assert_string_equal(back.t[i].name, set.t[i].name);
            assert_int_equal(back.t[i].nbytes, set.t[i].nbytes);
            if (set.t[i].nbytes)
                assert_memory_equal(back.t[i].data, set.t[i].data, set.t[i].nbytes);
        }
        tq_tensor_set_free(&back);
    }
    tq_tensor_set_free(&set);
}

typedef struct bad_case {
    const char *file;
    int code;
    const char *expect1, *expect2;
} bad_case;

static void test_malformed_numpy_files(void **state)
{
    (void)state;
    if (!have_numpy())
        skip();
    const char *dir = numpy_dir();
    static const bad_case cases[] = {
        {"bad/fortran.npz", TQ_EFORMAT, "entry 'x': ", "fortran_order"},
        {"bad/fortran.npy", TQ_EFORMAT, "fortran.npy: ", "fortran_order"},
        {"bad/dup.npz", TQ_EFORMAT, "entry 'a': ", "duplicate key"},
        {"bad/notnpy.npz", TQ_EFORMAT, "entry 'readme.txt': ", "not an .npy"},
        {"bad/complex.npz", TQ_EFORMAT, "entry 'c': ", "unsupported dtype '<c8'"},
        {"bad/bigendian.npz", TQ_EFORMAT, "entry 'be': ", "big-endian dtype '>f4'"},
        {"bad/object.npz", TQ_EFORMAT, "entry 'o': ", "unsupported dtype '|O'"},
        {"bad/structured.npz", TQ_EFORMAT, "entry 's': ", "structured"},
        {"bad/short.npz", TQ_EFORMAT, "entry 's': ", "data is 20 bytes but shape (2, 3) of '<f4' needs 24"},
        {"bad/long.npz", TQ_EFORMAT, "entry 'l': ", "data is 28 bytes but shape (2, 3)"},
        {"bad/badmagic.npz", TQ_EFORMAT, "entry 'm': ", "bad magic"},
        {"bad/garbage.npz", TQ_EFORMAT, "entry 'g': ", "malformed npy header"},
        {"bad/random.npz", TQ_EFORMAT, "random.npz: ", "not a valid .npz"},
        {"bad/truncated.npz", TQ_EFORMAT, "truncated.npz: ", "not a valid .npz"},
        {"bad/empty.npz", TQ_EFORMAT, "empty.npz: ", "empty file"},
        {"bad/missing.npz", TQ_EIO, "missing.npz: ", "cannot open"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = path_in(dir, cases[i].file);
        tq_error err = {0};
        int rc;
        if (strstr(path, ".npy")) {
            tq_tensor t;
            rc = tq_npy_read(path, &t, &err);
        } else {
            tq_tensor_set set;
            rc = tq_npz_read(path, &set, &err);
            assert_int_equal(set.n, 0);
            assert_null(set.t);
        }
        if (rc != cases[i].code || !strstr(err.msg, path) || !strstr(err.msg, cases[i].expect1) ||
            !strstr(err.msg, cases[i].expect2))
            fail_msg("%s: rc %d, message '%s'", cases[i].file, rc, err.msg);
    }
}

/* Build an npy v1 image from a header text and a data length. */
static uint8_t *npy_image(const char *header, size_t data_len, size_t *len)
{
    size_t h = strlen(header);
    *len = 10 + h + data_len;
    uint8_t *b = calloc(1, *len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)(h & 0xff);
    b[9] = (uint8_t)(h >> 8);
    memcpy(b + 10, header, h);
    return b;
}

static int parse_header(const char *header, size_t data_len, tq_error *err, tq_tensor *t)
{
    size_t len;
    uint8_t *b = npy_image(header, data_len, &len);
    tq_error_clear(err);
    int rc = tq_npy_parse(b, len, "x.npy", t, err);
    free(b);
    return rc;
}

static void test_header_parser(void **state)
{
    (void)state;
    tq_error err;
    tq_tensor t;
    /* accepted spellings */
    static const struct { const char *h; size_t data; int rank; int64_t d0; } good[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24, 2, 2},
        {"{\"shape\": (3,), \"descr\": \"<i8\", \"fortran_order\": False}", 24, 1, 3},
        {"{'descr':'|u1','fortran_order':False,'shape':()}   \n", 1, 0, 0},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2L, 3L), }\n", 12, 2, 2},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 0, 9,), }", 0, 3, 4},
        {"{'descr': 'u1', 'fortran_order': False, 'shape': (5,)}", 5, 1, 5},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (parse_header(good[i].h, good[i].data, &err, &t))
            fail_msg("'%s': %s", good[i].h, err.msg);
        assert_int_equal(t.rank, good[i].rank);
        if (t.rank)
            assert_int_equal(t.dims[0], good[i].d0);
        tq_tensor_clear(&t);
    }
    /* refused, each with what the message must say */
    static const struct { const char *h; size_t data; const char *why; } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, "needs 24"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5), }", 20, "missing ','"},
        {"{'descr': '<f4', 'fortran_order': False}", 0, "missing key 'shape'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, "unexpected key 'x'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "duplicate key"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", 4, "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", 4, "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 0, "non-negative"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4, "trailing"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", 4, "expected ','"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4, "malformed"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", 4, "malformed"},
        {"['descr', '<f4']", 4, "expected '{'"},
        {"", 0, "expected '{'"},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}", 12, "unsupported dtype '<U3'"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported dtype '|f4'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 4, "overflows"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 4, "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3037000500, 3037000500)}", 4, "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4, "rank"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse_header(bad[i].h, bad[i].data, &err, &t);
        if (rc != TQ_EFORMAT || strncmp(err.msg, "x.npy: ", 7) || !strstr(err.msg, bad[i].why))
            fail_msg("'%s': rc %d, message '%s' (want '%s')", bad[i].h, rc, err.msg, bad[i].why);
        assert_null(t.data);
    }

    /* prefix-level problems */
    size_t len;
    uint8_t *b = npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4, &len);
    tq_error_clear(&err);
    assert_int_equal(tq_npy_parse(b, 9, "x.npy", &t, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated"));
    b[6] = 4;
    tq_error_clear(&err);
    assert_int_equal(tq_npy_parse(b, len, "x.npy", &t, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "version 4.0"));
    b[6] = 1;
    b[8] = 0xff; /* header length beyond the buffer */
    tq_error_clear(&err);
    assert_int_equal(tq_npy_parse(b, len, "x.npy", &t, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated npy header"));
    free(b);
    /* v2 header length far past numpy's own limit */
    uint8_t v2[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xa0, 0x86, 0x01, 0x00};
    tq_error_clear(&err);
    assert_int_equal(tq_npy_parse(v2, sizeof v2, "x.npy", &t, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "100000 bytes is longer"));
}

/* Every truncation of a valid archive fails cleanly; random bit flips never
 * crash and, when they are caught, say which file. */
static void test_truncation_and_corruption(void **state)
{
    (void)state;
    tq_tensor_set set = {0};
    tq_error err = {0};
    for (size_t d = 0; d < 3; d++) {
        tq_tensor t;
        char key[32];
        snprintf(key, sizeof key, "k%zu", d);
        fill_pattern(&t, dtype_cases[d].dtype, &shape_cases[1 + d % 2], key);
        assert_int_equal(tq_tensor_set_add(&set, &t, &err), TQ_OK);
        tq_tensor_clear(&t);
    }
    for (int compress = 0; compress < 2; compress++) {
        const char *path = path_in(scratch, "small.npz");
        assert_int_equal(tq_npz_write(path, &set, compress, &err), TQ_OK);
        uint8_t *img, *again;
        size_t len, again_len;
        assert_int_equal(tq_read_file(path, &img, &len, &err), TQ_OK);
        /* fixed timestamps: writing the same set twice gives the same bytes */
        assert_int_equal(tq_npz_write(path, &set, compress, &err), TQ_OK);
        assert_int_equal(tq_read_file(path, &again, &again_len, &err), TQ_OK);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, img, len);
        free(again);
        tq_tensor_set back;
        for (size_t cut = 0; cut < len; cut++) {
            tq_error_clear(&err);
            int rc = tq_npz_parse(img, cut, "cut.npz", &back, &err);
            if (rc != TQ_EFORMAT || strncmp(err.msg, "cut.npz: ", 9))
                fail_msg("truncated at %zu of %zu: rc %d '%s'", cut, len, rc, err.msg);
        }
        tq_pcg64 rng;
        tq_pcg64_seed(&rng, 99);
        int caught = 0;
        for (int trial = 0; trial < 3000; trial++) {
            size_t at = (size_t)tq_pcg64_integers(&rng, 0, (int64_t)len);
            uint8_t bit = (uint8_t)(1u << tq_pcg64_integers(&rng, 0, 8));
            img[at] ^= bit;
            tq_error_clear(&err);
            int rc = tq_npz_parse(img, len, "flip.npz", &back, &err);
            if (rc == TQ_OK) {
                tq_tensor_set_free(&back);
            } else {
                if (rc != TQ_EFORMAT || strncmp(err.msg, "flip.npz: ", 10))
                    fail_msg("flip at %zu: rc %d '%s'", at, rc, err.msg);
                caught++;
            }
            img[at] ^= bit;
        }
        /* CRCs cover every entry byte, so most flips must be caught */
        assert_true(caught > 1500);
        free(img);
    }
    tq_tensor_set_free(&set);
}

static void test_write_errors_leave_nothing(void **state)
{
    (void)state;
    tq_tensor_set set = {0};
    tq_error err = {0};
    tq_tensor t;
    fill_pattern(&t, TQ_FLOAT, &shape_cases[1], "x");
    assert_int_equal(tq_tensor_set_add(&set, &t, &err), TQ_OK);
    assert_int_equal(tq_tensor_set_add(&set, &t, &err), TQ_EINVAL); /* duplicate */
    assert_non_null(strstr(err.msg, "duplicate name 'x'"));

    /* an existing file is left untouched by a failing write */
    const char *path = path_in(scratch, "keep.npz");
    assert_int_equal(tq_write_file_atomic(path, "precious", 8, &err), TQ_OK);
    tq_tensor_set bad = set;
    tq_tensor broken = set.t[0];
    broken.nbytes = 3; /* disagrees with its shape */
    bad.t = &broken;
    tq_error_clear(&err);
    assert_int_equal(tq_npz_write(path, &bad, 1, &err), TQ_EINVAL);
    assert_non_null(strstr(err.msg, "keep.npz: tensor 'x'"));
    broken.nbytes = set.t[0].nbytes;
    broken.dtype = TQ_STRING;
    tq_error_clear(&err);
    assert_int_equal(tq_npz_write(path, &bad, 0, &err), TQ_EUNSUPPORTED);
    uint8_t *kept;
    size_t kept_len;
    assert_int_equal(tq_read_file(path, &kept, &kept_len, &err), TQ_OK);
    assert_int_equal(kept_len, 8);
    assert_memory_equal(kept, "precious", 8);
    free(kept);

    tq_error_clear(&err);
    assert_int_equal(tq_npz_write("/nonexistent-dir/x.npz", &set, 0, &err), TQ_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.npz"));
    tq_error_clear(&err);
    assert_int_equal(tq_npy_write("/nonexistent-dir/x.npy", &set.t[0], &err), TQ_EIO);

    /* no temp files left behind in the scratch folder */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp", scratch);
    int status;
    char *out = run_capture(cmd, &status);
    assert_string_equal(out, "0\n");
    free(out);

    /* an empty set round-trips */
    tq_tensor_set none = {0}, back;
    tq_error_clear(&err);
    if (tq_npz_write(path_in(scratch, "none.npz"), &none, 1, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(tq_npz_read(path_in(scratch, "none.npz"), &back, &err), TQ_OK);
    assert_int_equal(back.n, 0);
    tq_tensor_set_free(&back);

    tq_tensor_clear(&t);
    tq_tensor_set_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_numpy_files),
        cmocka_unit_test(test_numpy_reads_ours),
        cmocka_unit_test(test_malformed_numpy_files),
        cmocka_unit_test(test_header_parser),
        cmocka_unit_test(test_truncation_and_corruption),
        cmocka_unit_test(test_write_errors_leave_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
