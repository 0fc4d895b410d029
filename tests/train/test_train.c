/* Trainer unit tests: the backward pass against central finite differences
 * (double), Adam fitting a function it can represent, the JSONL parser's
 * errors (file and line named), and byte-identical output for a seed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>

#include "tinyq/train.h"
#include "train/dataset.h"
#include "train/mlp.h"
#include "util/fileio.h"
#include "util/pcg64.h"

/* Largest |analytic - numeric| over all parameters. Central differences with
 * step h have truncation error ~h^2 |L'''| / 6 (~1e-11 here) and rounding
 * error ~eps |L| / h (~2e-11 for L ~ 1, h = 1e-5); 1e-7 is far above both
 * and far below a real bug (a wrong term is O(|g|) ~ 1e-3 .. 1). */
#define FD_STEP 1e-5
#define FD_TOL 1e-7

static double max_grad_error(tq_mlp *m, const double *x, const double *y, size_t n,
                             const double *grad)
{
    double worst = 0.0, lp, lm;
    double *scratch = malloc(m->n_params * sizeof *scratch);
    for (size_t p = 0; p < m->n_params; p++) {
        double keep = m->params[p];
        m->params[p] = keep + FD_STEP;
        assert_int_equal(tq_mlp_loss_grad(m, x, y, n, &lp, scratch), 0);
        m->params[p] = keep - FD_STEP;
        assert_int_equal(tq_mlp_loss_grad(m, x, y, n, &lm, scratch), 0);
        m->params[p] = keep;
        double fd = (lp - lm) / (2.0 * FD_STEP);
        double e = fabs(fd - grad[p]);
        worst = e > worst ? e : worst;
    }
    free(scratch);
    return worst;
}

static void test_gradient_check(void **state)
{
    (void)state;
    static const int hidden[][3] = {{7, 5, 0}, {4, 0, 0}, {6, 4, 3}};
    static const int n_hidden[] = {2, 1, 3};
    for (int cfg = 0; cfg < 3; cfg++) {
        tq_mlp m;
        const int in = 5;
        const size_t n = 9;
        assert_int_equal(tq_mlp_init(&m, in, hidden[cfg], n_hidden[cfg], 42 + (uint64_t)cfg), 0);
        tq_pcg64 rng;
        tq_pcg64_seed(&rng, 7);
        double x[9 * 5], y[9];
        for (size_t k = 0; k < n * in; k++)
            x[k] = 2.0 * tq_pcg64_random_double(&rng) - 1.0;
        for (size_t k = 0; k < n; k++)
            y[k] = tq_pcg64_random_double(&rng);
        /* non-zero biases so every bias gradient is exercised */
        for (int l = 0; l < m.n_layers; l++)
            for (int o = 0; o < m.width[l + 1]; o++)
                m.b[l][o] = 0.1 * (tq_pcg64_random_double(&rng) - 0.3);
        double loss;
        double *grad = malloc(m.n_params * sizeof *grad);
        assert_int_equal(tq_mlp_loss_grad(&m, x, y, n, &loss, grad), 0);
        double err = max_grad_error(&m, x, y, n, grad);
        printf("config %d: %zu params, max |grad - finite difference| = %.3g\n", cfg,
               m.n_params, err);
        assert_true(err < FD_TOL);
        /* the check itself must catch a wrong gradient (here: 1% off in one weight) */
        size_t p = m.n_params / 3;
        grad[p] *= 1.01;
        grad[p] += grad[p] == 0 ? 1e-3 : 0;
        assert_true(max_grad_error(&m, x, y, n, grad) > FD_TOL);
        free(grad);
        tq_mlp_free(&m);
    }
}

/* Adam on a target the network can represent exactly (a ReLU of a linear
 * map, i.e. a one-hidden-unit net): the training MSE must fall close to 0. */
static void test_fit_learns(void **state)
{
    (void)state;
    const size_t n = 256;
    const int in = 3;
    double *x = malloc(n * in * sizeof *x), *y = malloc(n * sizeof *y);
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, 3);
    double var = 0, mean = 0;
    for (size_t r = 0; r < n; r++) {
        double s = 0.3;
        for (int i = 0; i < in; i++) {
            x[r * in + (size_t)i] = 2.0 * tq_pcg64_random_double(&rng) - 1.0;
            s += (i + 1) * 0.5 * x[r * in + (size_t)i];
        }
        y[r] = (s > 0 ? s : 0) - 0.2;
        mean += y[r];
    }
    mean /= (double)n;
    for (size_t r = 0; r < n; r++)
        var += (y[r] - mean) * (y[r] - mean) / (double)n;
    int hidden[1] = {16};
    tq_mlp m;
    assert_int_equal(tq_mlp_init(&m, in, hidden, 1, 1), 0);
    tq_mlp_fit_settings fs = {.epochs = 300, .batch_size = 16, .lr = 0.01, .seed = 2};
    double loss;
    assert_int_equal(tq_mlp_fit(&m, x, y, n, &fs, &loss), 0);
    printf("target variance %.4g, training MSE after fit %.3g\n", var, loss);
    assert_true(loss < 0.01 * var);
    tq_mlp_free(&m);
    free(x);
    free(y);
}

static char dir[256];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static char *tmpdir_path(const char *name)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/tq_train_XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    return tq_path_join(dir, name);
}

static void write_text(const char *path, const char *text)
{
    tq_error err = {0};
    assert_int_equal(tq_write_file_atomic(path, text, strlen(text), &err), 0);
}

#define GOOD_ROW                                                                          \
    "{\"source\": \"a\", \"encoder\": \"libx264\", \"preset\": \"medium\", \"crf\": 23, "  \
    "\"bitrate_kbps\": 1200.5, \"vmaf_score\": 91.5, \"adm2\": 0.97, \"vif_scale0\": 0.6, " \
    "\"vif_scale1\": 0.85, \"vif_scale2\": 0.9, \"vif_scale3\": 0.93, \"motion2\": 4.1}"

static void expect_bad(const char *text, int codec_aware, const char *want)
{
    char *path = tmpdir_path("bad.jsonl");
    write_text(path, text);
    tq_train_data d;
    tq_error err = {0};
    int rc = tq_corpus_load_jsonl(path, codec_aware, &d, &err);
    char expect[512];
    snprintf(expect, sizeof expect, "%s:%s", path, want);
    if (rc != TQ_EFORMAT || !strstr(err.msg, expect))
        fail_msg("rc %d, message '%s', want code %d containing '%s'", rc, err.msg, TQ_EFORMAT,
                 expect);
    free(path);
}

static void test_jsonl_errors(void **state)
{
    (void)state;
    expect_bad(GOOD_ROW "\n" GOOD_ROW "\n{\"source\": \"a\",\n", 0, "3: not valid JSON");
    expect_bad(GOOD_ROW "\n\n[1, 2]\n", 0, "3: not a JSON object");
    expect_bad("{\"source\": \"a\", \"vmaf_score\": 1, \"adm2\": 1, \"vif_scale0\": 1, "
               "\"vif_scale1\": 1, \"vif_scale2\": 1, \"vif_scale3\": 1}\n", 0,
               "1: missing 'motion2'");
    expect_bad(GOOD_ROW "\n{\"vmaf_score\": 3}\n", 0, "2: missing 'source'");
    expect_bad("{\"source\": \"a\", \"vmaf_score\": \"high\"}\n", 0,
               "1: 'vmaf_score' is not a finite number");
    expect_bad("{\"source\": 5, \"vmaf_score\": 1}\n", 0, "1: 'source' is not a non-empty string");
    /* codec-aware rows need encoder, preset and crf */
    expect_bad(GOOD_ROW "\n{\"source\": \"b\", \"preset\": \"fast\", \"crf\": 30, "
               "\"vmaf_score\": 80, \"adm2\": 0.9, \"vif_scale0\": 0.5, \"vif_scale1\": 0.8, "
               "\"vif_scale2\": 0.85, \"vif_scale3\": 0.9, \"motion2\": 3}\n", 1,
               "2: missing 'encoder'");
    expect_bad(GOOD_ROW "\n" GOOD_ROW "\n", 0, " 2 rows; training needs at least 4");
    /* a NUL byte is named by line */
    char *path = tmpdir_path("nul.jsonl");
    const char text[] = GOOD_ROW "\n{\"so\0urce\": 1}\n";
    tq_error err = {0};
    assert_int_equal(tq_write_file_atomic(path, text, sizeof text - 1, &err), 0);
    tq_train_data d;
    assert_int_equal(tq_corpus_load_jsonl(path, 0, &d, &err), TQ_EFORMAT);
    assert_non_null(strstr(err.msg, ":2: NUL byte"));
    free(path);
}

static void test_jsonl_reads_rows(void **state)
{
    (void)state;
    char *path = tmpdir_path("good.jsonl");
    /* nested features object, numeric (SVT-AV1) preset, an alias, blank lines, CRLF */
    write_text(path, GOOD_ROW "\r\n\n"
               "{\"source\": \"b\", \"encoder\": \"av1\", \"preset\": 8, \"crf\": 35, "
               "\"vmaf_score\": 70, \"features\": {\"adm2\": 0.9, \"vif_scale0\": 0.5, "
               "\"vif_scale1\": 0.8, \"vif_scale2\": 0.85, \"vif_scale3\": 0.9, \"motion2\": 3}}\n"
               GOOD_ROW "\n" GOOD_ROW "\n");
    tq_train_data d;
    tq_error err = {0};
    if (tq_corpus_load_jsonl(path, 1, &d, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.n_groups, 2);
    assert_int_equal(d.codec_width, TQ_CODEC_WIDTH);
    assert_true(d.target[1] == 70.0 && d.features[6 + 5] == 3.0);
    /* row 2: libsvtav1 slot 2, preset 8 -> 8/9, crf 35/63 (the loader's mapping) */
    const double *c = d.codec + TQ_CODEC_WIDTH;
    assert_true(c[2] == 1.0 && c[11] == 0.0);
    assert_float_equal(c[12], (float)(8.0 / 9.0), 0);
    assert_float_equal(c[13], (float)(35.0 / 63.0), 0);
    /* row 1: libx264 slot 0, medium = 5/9 */
    assert_true(d.codec[0] == 1.0);
    assert_float_equal(d.codec[12], (float)(5.0 / 9.0), 0);
    tq_train_data_free(&d);
    free(path);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    uint8_t *p = NULL;
    tq_error err = {0};
    if (tq_read_file(path, &p, n, &err))
        fail_msg("%s", err.msg);
    return p;
}

static void train_once(const char *out, uint64_t seed, int codec)
{
    tq_train_settings s;
    tq_train_default_settings(&s);
    s.smoke = 1;
    s.codec_aware = codec;
    s.output_path = out;
    s.seed = seed;
    s.epochs = 40;
    tq_train_result res;
    tq_error err = {0};
    if (tq_train_fr_regressor(&s, &res, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(res.n_rows, 100);
    assert_int_equal(res.n_folds, 5);
    assert_int_equal(res.kfold, 0);
}

static void test_determinism(void **state)
{
    (void)state;
    for (int codec = 0; codec <= 1; codec++) {
        /* one path, trained three times: seed 11, 11 again, then 12 */
        char *onnx = tmpdir_path("det.onnx"), *json = tmpdir_path("det.json");
        size_t n[3], j[3];
        uint8_t *m[3], *sc[3];
        static const uint64_t seeds[3] = {11, 11, 12};
        for (int k = 0; k < 3; k++) {
            train_once(onnx, seeds[k], codec);
            m[k] = slurp(onnx, &n[k]);
            sc[k] = slurp(json, &j[k]);
        }
        assert_true(n[0] == n[1] && memcmp(m[0], m[1], n[0]) == 0);
        assert_true(j[0] == j[1] && memcmp(sc[0], sc[1], j[0]) == 0);
        assert_false(n[0] == n[2] && memcmp(m[0], m[2], n[0]) == 0); /* the seed matters */
        for (int k = 0; k < 3; k++) {
            free(m[k]);
            free(sc[k]);
        }
        free(onnx);
        free(json);
    }
}

static void test_bad_output_leaves_nothing(void **state)
{
    (void)state;
    tq_train_settings s;
    tq_train_default_settings(&s);
    char *bad = tmpdir_path("x.jsonl");
    write_text(bad, GOOD_ROW "\nnot json\n");
    char *out = tmpdir_path("never.onnx");
    s.corpus_path = bad;
    s.output_path = out;
    tq_train_result res;
    tq_error err = {0};
    assert_int_equal(tq_train_fr_regressor(&s, &res, &err), TQ_EFORMAT);
    assert_int_not_equal(access(out, F_OK), 0);
    free(bad);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_check),
        cmocka_unit_test(test_fit_learns),
        cmocka_unit_test(test_jsonl_errors),
        cmocka_unit_test(test_jsonl_reads_rows),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_bad_output_leaves_nothing),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (dir[0])
        nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}
