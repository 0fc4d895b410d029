/* SHA-256 against the FIPS 180-2 test vectors and coreutils' sha256sum. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/sha256.h"
#include "io_test_util.h"
#include "util/error.h"

static void test_known_vectors(void **state)
{
    (void)state;
    char hex[65];
    tq_sha256_buffer("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    tq_sha256_buffer("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    tq_sha256_buffer(two_blocks, strlen(two_blocks), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* One million 'a': longer than the file reader's 64 KiB chunk. */
static void test_file_million_a(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    assert_non_null(dir);
    char path[256];
    snprintf(path, sizeof path, "%s/a.bin", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 1000000; i++)
        fputc('a', f);
    fclose(f);
    char hex[65];
    tq_error err = {0};
    assert_int_equal(tq_sha256_file(path, hex, &err), TQ_OK);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    rm_tree(dir);
    free(dir);
}

static void test_missing_file(void **state)
{
    (void)state;
    char hex[65];
    tq_error err = {0};
    assert_int_equal(tq_sha256_file("/nonexistent/x.onnx", hex, &err), TQ_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/x.onnx"));
    assert_string_equal(hex, "");
    tq_error_clear(&err);
    assert_int_equal(tq_sha256_file("/tmp", hex, &err), TQ_EIO);
    assert_non_null(strstr(err.msg, "/tmp"));
}

/* Every seed model file hashes as coreutils' sha256sum says. */
static void test_seed_models_match_sha256sum(void **state)
{
    (void)state;
    const char *seeds = getenv("TQ_SEED_MODELS");
    DIR *d = seeds ? opendir(seeds) : NULL;
    if (!d)
        skip();
    int checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096], cmd[4200];
        snprintf(path, sizeof path, "%s/%s", seeds, e->d_name);
        snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
        int status;
        char *out = run_capture(cmd, &status);
        assert_non_null(out);
        assert_int_equal(status, 0);
        char hex[65];
        tq_error err = {0};
        assert_int_equal(tq_sha256_file(path, hex, &err), TQ_OK);
        assert_memory_equal(hex, out, 64);
        if (!strcmp(e->d_name, "vmaf_tiny_v4.onnx"))
            assert_string_equal(
                hex, "2bccd339caa08f25433120546e45f2cb435288edeeefeafc56f3668986904e8f");
        free(out);
        checked++;
    }
    closedir(d);
    assert_true(checked > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_file_million_a),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_seed_models_match_sha256sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
