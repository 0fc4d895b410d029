/* TensorProto files of the ONNX conformance test data: every input/output .pb
 * read by tinyq must have the name, type, shape and bytes numpy sees. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "onnx/onnx_tensor.h"
#include "onnx_test_util.h"

static void test_conformance_tensors_match_numpy(void **state)
{
    const char *data = getenv("TQ_ONNX_TESTDATA");
    struct stat st;
    if (!data || stat(data, &st) != 0) {
        printf("SKIP: ONNX test data '%s' not found\n", data ? data : "(unset)");
        skip();
    }
    char *ref = tqt_reference("tensors", data);
    assert_non_null(ref);
    int n_ok = 0, n_unsupported = 0, n_error = 0;
    char *save = NULL;
    for (char *line = strtok_r(ref, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        *sp = '\0';
        const char *path = line, *expect = sp + 1;
        tq_tensor t;
        tq_error err = {0};
        int rc = tq_onnx_read_tensor_pb(path, &t, &err);
        if (strcmp(expect, "error") == 0) {
            /* onnx python could not parse it as a TensorProto either */
            if (rc == TQ_OK)
                tq_tensor_clear(&t);
            n_error++;
            continue;
        }
        if (strstr(expect, " string") || strstr(expect, " unsupported ")) {
            if (rc != TQ_EUNSUPPORTED)
                fail_msg("%s: expected TQ_EUNSUPPORTED, got %d (%s)", path, rc, err.msg);
            assert_non_null(strstr(err.msg, path));
            n_unsupported++;
            continue;
        }
        if (rc)
            fail_msg("%s: %s", path, err.msg);
        char *mine = tqt_tensor_line(&t);
        if (strcmp(mine, expect) != 0)
            fail_msg("%s:\n  tinyq: %s\n  numpy: %s", path, mine, expect);
        free(mine);
        tq_tensor_clear(&t);
        n_ok++;
    }
    printf("conformance tensors: %d match numpy, %d unsupported (string etc.), %d not "
           "TensorProtos\n", n_ok, n_unsupported, n_error);
    assert_true(n_ok > 2000);
    free(ref);
}

static void test_bad_tensor_files(void **state)
{
    char *tmp = tqt_mkdtemp();
    char path[4096];
    snprintf(path, sizeof path, "%s/input_0.pb", tmp);
    /* Field 1 (dims) as a varint 9 times, then a truncated length-delimited field. */
    uint8_t bad[] = {0x08, 1, 0x08, 1, 0x08, 1, 0x08, 1, 0x08, 1, 0x08, 1, 0x08, 1, 0x08, 1,
                     0x08, 1, 0x10, 1, 0x4a, 0x7f};
    FILE *f = fopen(path, "wb");
    fwrite(bad, sizeof bad, 1, f);
    fclose(f);
    tq_tensor t;
    tq_error err = {0};
    assert_int_equal(tq_onnx_read_tensor_pb(path, &t, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, path));
    /* Without the truncated raw_data: rank 9 float -> unsupported, naming the file. */
    f = fopen(path, "wb");
    fwrite(bad, sizeof bad - 2, 1, f);
    fclose(f);
    tq_error err2 = {0};
    assert_int_equal(tq_onnx_read_tensor_pb(path, &t, &err2), TQ_EUNSUPPORTED);
    assert_non_null(strstr(err2.msg, "rank 9"));
    tqt_rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance_tensors_match_numpy),
        cmocka_unit_test(test_bad_tensor_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
