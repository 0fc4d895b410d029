/* Registry layer unit tests: metrics against numpy, the trust-root loader
 * refusing a file whose digest does not match, scaler placement, the codec
 * block, the registry rewrite (byte-identical to the Python-written seed file),
 * and 8 threads scoring through one scorer == serial scoring.
 * Seed-model cases skip when TQ_SEED_MODELS is absent. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "registry/registry_internal.h"
#include "tinyq/registry.h"
#include "util/fileio.h"
#include "util/metrics.h"

int tq_registry_reprint(const char *path, char **out, size_t *len, tq_error *err);

static char seed_dir[1024];

static int have_seed(void)
{
    const char *s = getenv("TQ_SEED_MODELS");
    if (!s)
        return 0;
    snprintf(seed_dir, sizeof seed_dir, "%s", s);
    char p[1200];
    snprintf(p, sizeof p, "%s/registry.json", s);
    return access(p, R_OK) == 0;
}

#define NEED_SEED()                                                                   \
    do {                                                                              \
        if (!have_seed()) {                                                           \
            print_message("seed models absent (TQ_SEED_MODELS): skipped\n");         \
            skip();                                                                   \
        }                                                                             \
    } while (0)

static char *seed_registry(void)
{
    static char p[1200];
    snprintf(p, sizeof p, "%s/registry.json", seed_dir);
    return p;
}

/* Reference values from numpy (np.corrcoef, and np.corrcoef of the average
 * ranks worked out by hand for the tie in x). */
static void test_metrics_match_numpy(void **state)
{
    (void)state;
    const double x[] = {0.1, 0.5, 0.3, 0.9, 0.7, 0.2, 0.2, 1.5};
    const double y[] = {1.0, 2.5, 2.0, 3.9, 3.1, 1.1, 1.4, 5.0};
    assert_true(fabs(tq_plcc(x, y, 8) - 0.9823442268692691) < 1e-14);
    assert_true(fabs(tq_srocc(x, y, 8) - 0.9940297973880048) < 1e-14);
    assert_true(fabs(tq_rmse(x, y, 8) - 2.149418526020468) < 1e-14);
    const double c[] = {1, 1, 1};
    assert_true(isnan(tq_plcc(c, y, 3))); /* constant series: undefined, never a pass */
}

/* Copy the seed folder's files into a temp dir (so tests can tamper). */
static void make_tmp_copy(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/tq_reg_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp %s/*.onnx %s/*.json %s/ 2>/dev/null; cp %s/*.data %s/",
             seed_dir, seed_dir, dir, seed_dir, dir);
    assert_int_equal(system(cmd), 0);
}

static void rm_tree(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_sha_mismatch_refused_before_parsing(void **state)
{
    (void)state;
    NEED_SEED();
    char dir[64], path[256];
    make_tmp_copy(dir, sizeof dir);
    /* Replace the model with garbage: a parser would say "not a valid ONNX
     * model"; the trust root must refuse on the digest first. */
    snprintf(path, sizeof path, "%s/vmaf_tiny_v2.onnx", dir);
    assert_int_equal(tq_write_file_atomic(path, "garbage", 7, NULL), 0);
    snprintf(path, sizeof path, "%s/registry.json", dir);
    tq_registry *reg = NULL;
    tq_error err = {0};
    assert_int_equal(tq_registry_open(&reg, path, &err), 0);
    tq_scorer *s = NULL;
    assert_int_equal(tq_scorer_open(&s, reg, "vmaf_tiny_v2", NULL, &err), TQ_EFORMAT);
    assert_null(s);
    assert_non_null(strstr(err.msg, "entry 'vmaf_tiny_v2': sha256: mismatch"));
    assert_non_null(strstr(err.msg, "refusing to load"));
    tq_registry_close(&reg);
    rm_tree(dir);
}

static void test_scaler_site(void **state)
{
    (void)state;
    NEED_SEED();
    tq_registry *reg = NULL;
    tq_error err = {0};
    assert_int_equal(tq_registry_open(&reg, seed_registry(), &err), 0);
    const char *ids[] = {"fr_regressor_v1", "fr_regressor_v2", "vmaf_tiny_v2", "smoke_v0"};
    const tq_scaler_site want[] = {TQ_SCALER_LOADER, TQ_SCALER_LOADER, TQ_SCALER_GRAPH,
                                   TQ_SCALER_NONE};
    for (int i = 0; i < 4; i++) {
        tq_scorer *s = NULL;
        assert_int_equal(tq_scorer_open(&s, reg, ids[i], NULL, &err), 0);
        tq_scorer_info in;
        assert_int_equal(tq_scorer_get_info(s, &in), 0);
        assert_int_equal(in.scaler, want[i]);
        tq_scorer_close(&s);
    }
    tq_registry_close(&reg);
}

static void test_scaler_disagreement_refused(void **state)
{
    (void)state;
    NEED_SEED();
    char dir[64], path[256];
    make_tmp_copy(dir, sizeof dir);
    /* A sidecar whose mean differs from the baked one: which applies is unknowable. */
    snprintf(path, sizeof path,
             "sed -i 's/0.9154358735163397/0.9/' %s/vmaf_tiny_v2.json", dir);
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof path, "%s/registry.json", dir);
    tq_registry *reg = NULL;
    tq_error err = {0};
    assert_int_equal(tq_registry_open(&reg, path, &err), 0);
    tq_scorer *s = NULL;
    assert_int_equal(tq_scorer_open(&s, reg, "vmaf_tiny_v2", NULL, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, "differs from the one baked into the graph"));
    tq_registry_close(&reg);
    rm_tree(dir);
}

static void test_codec_block(void **state)
{
    (void)state;
    NEED_SEED();
    tq_registry *reg = NULL;
    tq_error err = {0};
    assert_int_equal(tq_registry_open(&reg, seed_registry(), &err), 0);
    tq_scorer *s = NULL;
    assert_int_equal(tq_scorer_open(&s, reg, "fr_regressor_v2", NULL, &err), 0);
    tq_scorer_info in;
    tq_scorer_get_info(s, &in);
    assert_int_equal(in.codec_width, 14);
    float b[14];
    /* no context: the unknown one-hot slot (index 11 in the sidecar layout) alone */
    assert_int_equal(tq_scorer_codec_block(s, NULL, b, 14, &err), 0);
    for (int i = 0; i < 14; i++)
        assert_true(b[i] == (i == 11 ? 1.0f : 0.0f));
    tq_codec_context c = {.encoder = "libx265", .preset = "slow", .crf = 30};
    assert_int_equal(tq_scorer_codec_block(s, &c, b, 14, &err), 0);
    assert_true(b[1] == 1.0f && b[11] == 0.0f);
    assert_true(b[12] == (float)(6 / 9.0) && b[13] == (float)(30 / 63.0));
    c = (tq_codec_context){.encoder = " X264 ", .preset = NULL, .crf = -1};
    assert_int_equal(tq_scorer_codec_block(s, &c, b, 14, &err), 0);
    assert_true(b[0] == 1.0f && b[12] == (float)(5 / 9.0) && b[13] == (float)(23 / 63.0));
    c = (tq_codec_context){.encoder = "libfoo", .preset = "fast", .crf = 20};
    assert_int_equal(tq_scorer_codec_block(s, &c, b, 14, &err), 0);
    assert_true(b[11] == 1.0f);
    for (int i = 0; i < 11; i++)
        assert_true(b[i] == 0.0f);
    assert_int_equal(tq_scorer_codec_block(s, NULL, b, 13, &err), TQ_EINVAL);
    tq_scorer_close(&s);
    tq_registry_close(&reg);
}

static void test_rewrite_roundtrip_is_byte_identical(void **state)
{
    (void)state;
    NEED_SEED();
    uint8_t *orig = NULL;
    size_t n = 0;
    tq_error err = {0};
    assert_int_equal(tq_read_file(seed_registry(), &orig, &n, &err), 0);
    char *again = NULL;
    size_t m = 0;
    assert_int_equal(tq_registry_reprint(seed_registry(), &again, &m, &err), 0);
    assert_int_equal(m, n);
    assert_memory_equal(again, orig, n);
    free(again);

    char dir[64], path[256];
    make_tmp_copy(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.json", dir);
    /* Recording what is already there changes nothing. */
    assert_int_equal(tq_registry_record_quant(path, "vmaf_tiny_v3", TQ_QUANT_DYNAMIC,
                     "b4bdbb353b1b395adb22b77e890117228de1cfd12b94cb46fd0173c2fd12a343", NULL,
                     &err), 0);
    uint8_t *now = NULL;
    size_t k = 0;
    assert_int_equal(tq_read_file(path, &now, &k, &err), 0);
    assert_int_equal(k, n);
    assert_memory_equal(now, orig, n);
    free(now);
    /* New fields land in sorted position; unknown fields keep theirs. */
    const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    assert_int_equal(tq_registry_record_quant(path, "vmaf_tiny_v2", TQ_QUANT_STATIC, sha,
                                              "cal/v2.npz", &err), 0);
    tq_registry *reg = NULL;
    assert_int_equal(tq_registry_open(&reg, path, &err), 0);
    int i = tq_registry_find(reg, "vmaf_tiny_v2", &err);
    assert_true(i >= 0);
    const cJSON *e = reg->entry_json[i];
    const char *order[] = {"description", "id", "int8_sha256", "kind", "license", "license_url",
                           "notes", "onnx", "opset", "quant_calibration_set", "quant_mode",
                           "sha256", "sigstore_bundle", "smoke"};
    int j = 0;
    for (const cJSON *c = e->child; c; c = c->next, j++)
        assert_string_equal(c->string, order[j]);
    assert_int_equal(j, 14);
    assert_string_equal(reg->entries[i].int8_sha256, sha);
    assert_int_equal(reg->entries[i].quant_mode, TQ_QUANT_STATIC);
    assert_int_equal(tq_registry_record_quant(path, "nope", TQ_QUANT_DYNAMIC, sha, NULL, &err),
                     TQ_EINVAL);
    tq_registry_close(&reg);
    free(orig);
    rm_tree(dir);
}

/* ---- 8 threads through one scorer == serial */
#define ROWS 64
#define THREADS 8
#define ROUNDS 20

typedef struct job {
    tq_scorer *s;
    const float *x;
    const float *full; /* serial result of the whole batch */
    const float *rows; /* serial results row by row */
    int failures;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    float out[ROWS];
    tq_codec_context c = {.encoder = "libsvtav1", .preset = "8", .crf = 35};
    for (int r = 0; r < ROUNDS; r++) {
        tq_error err = {0};
        /* alternate whole batches and single rows (different plans per session) */
        if (r % 2 == 0) {
            if (tq_scorer_score_features(j->s, j->x, ROWS, &c, out, ROWS, &err) ||
                memcmp(out, j->full, sizeof(float) * ROWS) != 0)
                j->failures++;
        } else {
            int row = (r * 13) % ROWS;
            if (tq_scorer_score_features(j->s, j->x + row * 6, 1, &c, out, 1, &err) ||
                out[0] != j->rows[row])
                j->failures++;
        }
    }
    return NULL;
}

static void test_threads_equal_serial(void **state)
{
    (void)state;
    NEED_SEED();
    tq_registry *reg = NULL;
    tq_error err = {0};
    assert_int_equal(tq_registry_open(&reg, seed_registry(), &err), 0);
    tq_scorer_settings st;
    tq_scorer_default_settings(&st);
    st.max_sessions = 4; /* fewer slots than threads: temporaries are exercised too */
    tq_scorer *s = NULL;
    assert_int_equal(tq_scorer_open(&s, reg, "fr_regressor_v2", &st, &err), 0);
    static float x[ROWS * 6], serial[ROWS], full[ROWS];
    for (int i = 0; i < ROWS * 6; i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f * (i % 6 == 5 ? 20.0f : 1.0f);
    tq_codec_context c = {.encoder = "libsvtav1", .preset = "8", .crf = 35};
    for (int r = 0; r < ROWS; r++)
        assert_int_equal(tq_scorer_score_features(s, x + r * 6, 1, &c, serial + r, 1, &err), 0);
    assert_int_equal(tq_scorer_score_features(s, x, ROWS, &c, full, ROWS, &err), 0);
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){.s = s, .x = x, .full = full, .rows = serial};
        assert_int_equal(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
    }
    int failures = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        failures += jobs[t].failures;
    }
    assert_int_equal(failures, 0);
    tq_scorer_close(&s);
    tq_registry_close(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_match_numpy),
        cmocka_unit_test(test_sha_mismatch_refused_before_parsing),
        cmocka_unit_test(test_scaler_site),
        cmocka_unit_test(test_scaler_disagreement_refused),
        cmocka_unit_test(test_codec_block),
        cmocka_unit_test(test_rewrite_roundtrip_is_byte_identical),
        cmocka_unit_test(test_threads_equal_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
