/* Malformed and hostile models: each must fail with TQ_EFORMAT / TQ_EIO /
 * TQ_EUNSUPPORTED and a message naming the file (and tensor), never crash.
 * The bad external-data models are written as protobuf bytes with protobuf-c. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "graph/ir.h"
#include "onnx.pb-c.h"
#include "onnx_test_util.h"
#include "util/fileio.h"

static char *tmp;

static int setup(void **state)
{
    tmp = tqt_mkdtemp();
    return tmp ? 0 : -1;
}

static int teardown(void **state)
{
    tqt_rmdir(tmp);
    return 0;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (!p)
        abort();
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* Serialize a minimal model: Identity(x) -> y plus one float initializer
 * 'fc1.weight' [16, 32] (2048 bytes) with the given tensor customisations. */
typedef struct bad_spec {
    const char *location; /* external data location, NULL: inline raw_data */
    const char *offset, *length;
    int rank;             /* 0: [16, 32] */
    int dtype;            /* 0: float */
    size_t raw_len;       /* inline raw_data length, 0: exact */
    int no_graph;
} bad_spec;

static uint8_t *build_model(const bad_spec *s, size_t *len)
{
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[16];
    t.name = "fc1.weight";
    t.has_data_type = 1;
    t.data_type = s->dtype ? s->dtype : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    if (s->rank) {
        for (int i = 0; i < s->rank; i++)
            dims[i] = 1;
        t.n_dims = (size_t)s->rank;
    } else {
        dims[0] = 16;
        dims[1] = 32;
        t.n_dims = 2;
    }
    t.dims = dims;
    static uint8_t raw[4096];
    Onnx__StringStringEntryProto kv[3] = {ONNX__STRING_STRING_ENTRY_PROTO__INIT,
                                          ONNX__STRING_STRING_ENTRY_PROTO__INIT,
                                          ONNX__STRING_STRING_ENTRY_PROTO__INIT};
    Onnx__StringStringEntryProto *kvp[3];
    if (s->location) {
        t.has_data_location = 1;
        t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        kv[0].key = "location";
        kv[0].value = (char *)s->location;
        kv[1].key = "offset";
        kv[1].value = (char *)(s->offset ? s->offset : "0");
        kv[2].key = "length";
        kv[2].value = (char *)(s->length ? s->length : "2048");
        for (int i = 0; i < 3; i++)
            kvp[i] = &kv[i];
        t.n_external_data = 3;
        t.external_data = kvp;
    } else {
        t.has_raw_data = 1;
        t.raw_data.data = raw;
        t.raw_data.len = s->raw_len ? s->raw_len : (s->rank ? 4 : 2048);
    }
    Onnx__TensorProto *inits[1] = {&t};
    char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = "Identity";
    node.n_input = 1;
    node.input = in_names;
    node.n_output = 1;
    node.output = out_names;
    Onnx__NodeProto *nodes[1] = {&node};
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.name = "bad";
    g.n_node = 1;
    g.node = nodes;
    g.n_initializer = 1;
    g.initializer = inits;
    Onnx__OperatorSetIdProto op = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    op.domain = "";
    op.has_version = 1;
    op.version = 17;
    Onnx__OperatorSetIdProto *ops[1] = {&op};
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.n_opset_import = 1;
    m.opset_import = ops;
    m.graph = s->no_graph ? NULL : &g;
    *len = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(*len);
    onnx__model_proto__pack(&m, buf);
    return buf;
}

/* Write the model as dir/x.onnx and expect loading it to fail with code and
 * a message containing the file name and `needle`. */
static void expect_fail(const char *dir, const bad_spec *s, int code, const char *needle)
{
    size_t len;
    uint8_t *buf = build_model(s, &len);
    char *model = path_in(dir, "x.onnx");
    write_bytes(model, buf, len);
    free(buf);
    tq_error err = {0};
    tq_model *m = NULL;
    int rc = tq_model_load(&m, model, &err);
    if (rc != code)
        fail_msg("expected code %d, got %d (%s)", code, rc, err.msg);
    assert_null(m);
    if (!strstr(err.msg, model) || !strstr(err.msg, needle))
        fail_msg("message lacks '%s' or the file name: %s", needle, err.msg);
    printf("  ok: %s\n", err.msg);
    free(model);
}

static void write_data(const char *dir, const char *name, size_t n)
{
    uint8_t *b = calloc(1, n ? n : 1);
    char *p = path_in(dir, name);
    write_bytes(p, b, n);
    free(p);
    free(b);
}

static void test_valid_external_loads(void **state)
{
    /* Positive control for the cases below: same model, good data file. */
    char *dir = path_in(tmp, "good");
    assert_int_equal(mkdir(dir, 0755), 0);
    float w[512];
    for (int i = 0; i < 512; i++)
        w[i] = (float)i * 0.5f;
    char *data = path_in(dir, "x.onnx.data");
    FILE *f = fopen(data, "wb");
    fwrite("PAD!", 1, 4, f);
    fwrite(w, sizeof w, 1, f);
    fclose(f);
    bad_spec s = {.location = "x.onnx.data", .offset = "4"};
    size_t len;
    uint8_t *buf = build_model(&s, &len);
    char *model = path_in(dir, "x.onnx");
    write_bytes(model, buf, len);
    tq_error err = {0};
    tq_model *m = NULL;
    if (tq_model_load(&m, model, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(m->n_external_tensors, 1);
    assert_int_equal(m->external_bytes, 2048);
    assert_memory_equal(m->graph.initializers[0].data, w, sizeof w);
    tq_model_free(&m);

    /* A link that stays inside the folder is fine; no length = to end of file. */
    char *link = path_in(dir, "alias.data");
    assert_int_equal(symlink("x.onnx.data", link), 0);
    bad_spec s2 = {.location = "alias.data", .offset = "4"};
    free(buf);
    buf = build_model(&s2, &len);
    write_bytes(model, buf, len);
    if (tq_model_load(&m, model, &err))
        fail_msg("%s", err.msg);
    tq_model_free(&m);

    /* From memory without a base folder, external data is refused. */
    tq_error err2 = {0};
    assert_int_equal(tq_model_load_buffer(&m, buf, len, "mem.onnx", NULL, &err2), TQ_EFORMAT);
    assert_non_null(strstr(err2.msg, "mem.onnx"));
    free(buf);
    free(link);
    free(model);
    free(data);
    free(dir);
}

static void test_external_data_attacks(void **state)
{
    char *dir = path_in(tmp, "ext");
    assert_int_equal(mkdir(dir, 0755), 0);

    bad_spec missing = {.location = "x.onnx.data"};
    expect_fail(dir, &missing, TQ_EIO, "initializer 'fc1.weight': external data file 'x.onnx.data'");

    write_data(dir, "x.onnx.data", 1024);
    bad_spec shortf = {.location = "x.onnx.data"};
    expect_fail(dir, &shortf, TQ_EFORMAT, "initializer 'fc1.weight': external data "
                "'x.onnx.data' is 1024 bytes, tensor needs bytes 0..2048");

    write_data(tmp, "outside.data", 4096);
    bad_spec dotdot = {.location = "../outside.data"};
    expect_fail(dir, &dotdot, TQ_EFORMAT, "'../outside.data' is refused");
    bad_spec dotdot2 = {.location = "sub/../../outside.data"};
    expect_fail(dir, &dotdot2, TQ_EFORMAT, "is refused");

    char *abs = path_in(tmp, "outside.data");
    bad_spec absolute = {.location = abs};
    expect_fail(dir, &absolute, TQ_EFORMAT, "is refused");

    char *link = path_in(dir, "escape.data");
    assert_int_equal(symlink(abs, link), 0);
    bad_spec sym = {.location = "escape.data"};
    expect_fail(dir, &sym, TQ_EFORMAT, "resolves outside the model folder");

    write_data(dir, "x.onnx.data", 4096);
    bad_spec overflow = {.location = "x.onnx.data", .offset = "18446744073709551615",
                         .length = "2048"};
    expect_fail(dir, &overflow, TQ_EFORMAT, "overflows");
    bad_spec toolong = {.location = "x.onnx.data", .offset = "0", .length = "1024"};
    expect_fail(dir, &toolong, TQ_EFORMAT, "length 1024 does not match the tensor size of 2048");
    bad_spec badnum = {.location = "x.onnx.data", .offset = "-5"};
    expect_fail(dir, &badnum, TQ_EFORMAT, "offset '-5'");
    free(link);
    free(abs);
    free(dir);
}

static void test_seed_model_with_truncated_data(void **state)
{
    const char *seeds = tqt_seed_models();
    if (!seeds)
        skip();
    char *dir = path_in(tmp, "seedcopy");
    assert_int_equal(mkdir(dir, 0755), 0);
    char *src = path_in(seeds, "fr_regressor_v1.onnx");
    char *dst = path_in(dir, "fr_regressor_v1.onnx");
    uint8_t *buf;
    size_t len;
    tq_error err = {0};
    assert_int_equal(tq_read_file(src, &buf, &len, &err), TQ_OK);
    write_bytes(dst, buf, len);
    free(buf);
    char *dsrc = path_in(seeds, "fr_regressor_v1.onnx.data");
    char *ddst = path_in(dir, "fr_regressor_v1.onnx.data");
    assert_int_equal(tq_read_file(dsrc, &buf, &len, &err), TQ_OK);
    write_bytes(ddst, buf, len / 2); /* cut in the middle of net.3.weight */
    free(buf);
    tq_model *m = NULL;
    assert_int_equal(tq_model_load(&m, dst, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, dst));
    assert_non_null(strstr(err.msg, "net.3.weight"));
    printf("  ok: %s\n", err.msg);

    /* The same model with its data file missing. */
    unlink(ddst);
    tq_error err2 = {0};
    assert_int_equal(tq_model_load(&m, dst, &err2), TQ_EIO);
    assert_non_null(strstr(err2.msg, "fr_regressor_v1.onnx.data"));
    free(src);
    free(dst);
    free(dsrc);
    free(ddst);
    free(dir);
}

static void test_truncated_and_random(void **state)
{
    const char *seeds = tqt_seed_models();
    char *p = path_in(tmp, "junk.onnx");
    tq_error err = {0};
    tq_model *m = NULL;
    if (seeds) {
        char *src = path_in(seeds, "vmaf_tiny_v2.onnx");
        uint8_t *buf;
        size_t len;
        assert_int_equal(tq_read_file(src, &buf, &len, &err), TQ_OK);
        /* Every cut inside the graph message must be refused. */
        for (size_t cut = len - 1; cut > len / 2; cut -= 97) {
            tq_error e = {0};
            write_bytes(p, buf, cut);
            int rc = tq_model_load(&m, p, &e);
            if (rc != TQ_EFORMAT)
                fail_msg("cut at %zu of %zu: code %d (%s)", cut, len, rc, e.msg);
            assert_non_null(strstr(e.msg, p));
        }
        free(buf);
        free(src);
    }
    /* Deterministic pseudo-random bytes (xorshift), several lengths. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint8_t junk[4096];
    for (size_t n = 1; n <= sizeof junk; n *= 4) {
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            junk[i] = (uint8_t)x;
        }
        write_bytes(p, junk, n);
        tq_error e = {0};
        int rc = tq_model_load(&m, p, &e);
        if (rc != TQ_EFORMAT)
            fail_msg("random %zu bytes: code %d (%s)", n, rc, e.msg);
        assert_non_null(strstr(e.msg, p));
    }
    write_bytes(p, junk, 64);
    assert_int_equal(tq_model_load(&m, p, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "not a valid ONNX model (protobuf parse failed)"));

    tq_error e2 = {0};
    assert_int_equal(tq_model_load(&m, "/nonexistent/tinyq.onnx", &e2), TQ_EIO);
    assert_non_null(strstr(e2.msg, "/nonexistent/tinyq.onnx"));
    free(p);
}

static void test_bad_tensors(void **state)
{
    char *dir = path_in(tmp, "tensors");
    assert_int_equal(mkdir(dir, 0755), 0);
    bad_spec rank9 = {.rank = 9};
    expect_fail(dir, &rank9, TQ_EUNSUPPORTED, "'fc1.weight' has rank 9");
    bad_spec str = {.dtype = ONNX__TENSOR_PROTO__DATA_TYPE__STRING};
    expect_fail(dir, &str, TQ_EUNSUPPORTED, "'fc1.weight': string tensors are not supported");
    bad_spec bf16 = {.dtype = ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16};
    expect_fail(dir, &bf16, TQ_EUNSUPPORTED, "data type 16");
    bad_spec shortraw = {.raw_len = 100};
    expect_fail(dir, &shortraw, TQ_EFORMAT, "raw_data has 100 bytes, the shape needs 2048");
    bad_spec nograph = {.no_graph = 1};
    expect_fail(dir, &nograph, TQ_EFORMAT, "has no graph");
    free(dir);
}

/* Prepend a length-delimited field header (tag, varint length) before *start. */
static uint8_t *prepend_header(uint8_t *start, uint8_t tag, size_t len)
{
    uint8_t hdr[12];
    size_t h = 0;
    do {
        hdr[h++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
        len >>= 7;
    } while (len);
    start -= h;
    memcpy(start, hdr, h);
    *--start = tag;
    return start;
}

/* Graph attributes nested far deeper than any real model: refused, no stack
 * overflow (protobuf-c alone would recurse once per level). */
static void test_deep_nesting(void **state)
{
    enum { DEPTH = 100000 };
    size_t cap = (size_t)DEPTH * 3 * 12 + 64;
    uint8_t *buf = malloc(cap), *end = buf + cap, *start = end;
    /* Inside-out: Graph.node(1) -> Node.attribute(5) -> Attribute.g(6) -> Graph... */
    static const uint8_t tags[3] = {0x32 /* AttributeProto.g = 6 */,
                                    0x2a /* NodeProto.attribute = 5 */,
                                    0x0a /* GraphProto.node = 1 */};
    for (int level = 0; level < DEPTH * 3; level++)
        start = prepend_header(start, tags[level % 3], (size_t)(end - start));
    start = prepend_header(start, 0x3a /* ModelProto.graph = 7 */, (size_t)(end - start));
    tq_error err = {0};
    tq_model *m = NULL;
    assert_int_equal(tq_model_load_buffer(&m, start, (size_t)(end - start), "deep.onnx", NULL,
                                          &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "deep.onnx"));
    assert_non_null(strstr(err.msg, "nest"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_external_loads),
        cmocka_unit_test(test_external_data_attacks),
        cmocka_unit_test(test_seed_model_with_truncated_data),
        cmocka_unit_test(test_truncated_and_random),
        cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
