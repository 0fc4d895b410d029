/* Runs every case gen_cases.py emits (ONNX conformance node tests and
 * numpy-made cases) through the op's prepare + eval and compares outputs.
 *
 * Record format (whitespace separated, one per line):
 *   case NAME OP OPSET N_IN N_OUT RTOL ATOL ok|error|diverge
 *   attr NAME f|i|s|fs|is|t ...   (s: hex bytes; t: DTYPE RANK DIMS... HEX)
 *   in IDX -  |  in IDX NAME DTYPE RANK DIMS... HEX
 *   out IDX DTYPE RANK DIMS... HEX
 *   end
 * Floats compare as |got - want| <= atol + rtol * |want| (NaN == NaN);
 * other types exactly. "diverge" (reference data known to differ from ONNX
 * Runtime, see gen_cases.py) checks success, dtype and shape only. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "op_harness.h"

typedef struct tensor_rec {
    tq_dtype dtype;
    int rank;
    int64_t dims[TQ_MAX_RANK];
    unsigned char *data;
    size_t nbytes;
} tensor_rec;

static char *next_tok(char **save)
{
    return strtok_r(NULL, " \t\n", save);
}

static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static unsigned char *parse_hex(const char *s, size_t *n)
{
    if (strcmp(s, "-") == 0) {
        *n = 0;
        return calloc(1, 1);
    }
    size_t len = strlen(s) / 2;
    unsigned char *b = malloc(len ? len : 1);
    for (size_t i = 0; b && i < len; i++)
        b[i] = (unsigned char)(hex_val(s[2 * i]) * 16 + hex_val(s[2 * i + 1]));
    *n = len;
    return b;
}

static int parse_tensor(char **save, tensor_rec *t)
{
    t->dtype = (tq_dtype)atoi(next_tok(save));
    t->rank = atoi(next_tok(save));
    if (t->rank < 0 || t->rank > TQ_MAX_RANK)
        return -1;
    for (int i = 0; i < t->rank; i++)
        t->dims[i] = atoll(next_tok(save));
    t->data = parse_hex(next_tok(save), &t->nbytes);
    return t->data ? 0 : -1;
}

static bool close_enough(double got, double want, double rtol, double atol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

static double elem(tq_dtype t, const unsigned char *p, int64_t i)
{
    switch (t) {
    case TQ_FLOAT: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case TQ_DOUBLE: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case TQ_FLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return tq_half_to_float(v); }
    default: return 0;
    }
}

/* Returns NULL when equal, else a description in buf. */
static const char *compare(const tq_value *got, const tensor_rec *want, double rtol,
                           double atol, char *buf, size_t len)
{
    if (got->dtype != want->dtype || got->rank != want->rank) {
        snprintf(buf, len, "got %s rank %d, want %s rank %d", tq_dtype_name(got->dtype),
                 got->rank, tq_dtype_name(want->dtype), want->rank);
        return buf;
    }
    for (int i = 0; i < want->rank; i++)
        if (got->dims[i] != want->dims[i]) {
            snprintf(buf, len, "dim %d: got %lld, want %lld", i, (long long)got->dims[i],
                     (long long)want->dims[i]);
            return buf;
        }
    int64_t n = tq_value_numel(got);
    size_t es = tq_dtype_size(got->dtype);
    if ((size_t)n * es != want->nbytes) {
        snprintf(buf, len, "reference holds %zu bytes for %lld elements", want->nbytes,
                 (long long)n);
        return buf;
    }
    if (isinf(rtol)) /* shape-only check */
        return NULL;
    bool is_float = got->dtype == TQ_FLOAT || got->dtype == TQ_DOUBLE || got->dtype == TQ_FLOAT16;
    for (int64_t i = 0; i < n; i++) {
        if (is_float) {
            double g = elem(got->dtype, got->data, i), w = elem(want->dtype, want->data, i);
            if (!close_enough(g, w, rtol, atol)) {
                snprintf(buf, len, "element %lld: got %.9g, want %.9g", (long long)i, g, w);
                return buf;
            }
        } else if (memcmp((const char *)got->data + i * es, want->data + i * es, es) != 0) {
            snprintf(buf, len, "element %lld differs", (long long)i);
            return buf;
        }
    }
    return NULL;
}

static int add_attr(tq_node *node, char **save)
{
    const char *name = next_tok(save), *kind = next_tok(save);
    if (!name || !kind)
        return -1;
    if (strcmp(kind, "f") == 0) {
        tq_attr *a = tq_node_add_attr(node, name, TQ_ATTR_FLOAT);
        a->f = strtof(next_tok(save), NULL);
    } else if (strcmp(kind, "i") == 0) {
        tq_attr *a = tq_node_add_attr(node, name, TQ_ATTR_INT);
        a->i = atoll(next_tok(save));
    } else if (strcmp(kind, "s") == 0) {
        tq_attr *a = tq_node_add_attr(node, name, TQ_ATTR_STRING);
        size_t n;
        a->s = (char *)parse_hex(next_tok(save), &n);
        a->s = realloc(a->s, n + 1);
        a->s[n] = 0;
    } else if (strcmp(kind, "fs") == 0 || strcmp(kind, "is") == 0) {
        bool f = kind[0] == 'f';
        tq_attr *a = tq_node_add_attr(node, name, f ? TQ_ATTR_FLOATS : TQ_ATTR_INTS);
        a->n = atoi(next_tok(save));
        if (f)
            a->floats = calloc((size_t)a->n + 1, sizeof(float));
        else
            a->ints = calloc((size_t)a->n + 1, sizeof(int64_t));
        for (int i = 0; i < a->n; i++) {
            const char *v = next_tok(save);
            if (f)
                a->floats[i] = strtof(v, NULL);
            else
                a->ints[i] = atoll(v);
        }
    } else if (strcmp(kind, "t") == 0) {
        tq_attr *a = tq_node_add_attr(node, name, TQ_ATTR_TENSOR);
        tensor_rec t;
        if (parse_tensor(save, &t))
            return -1;
        a->t = calloc(1, sizeof *a->t);
        a->t->dtype = t.dtype;
        a->t->rank = t.rank;
        memcpy(a->t->dims, t.dims, sizeof t.dims);
        a->t->data = t.data;
        a->t->nbytes = t.nbytes;
    } else {
        return -1;
    }
    return 0;
}

typedef struct case_stats {
    int run, failed;
} case_stats;

/* Reads one case body after its header line; returns 0 when it passed. */
static int run_case(FILE *f, char *header, case_stats *st)
{
    char *save;
    strtok_r(header, " \t\n", &save); /* "case" */
    char name[256];
    snprintf(name, sizeof name, "%s", next_tok(&save));
    const char *op = next_tok(&save);
    int64_t opset = atoll(next_tok(&save));
    int n_in = atoi(next_tok(&save)), n_out = atoi(next_tok(&save));
    double rtol = atof(next_tok(&save)), atol = atof(next_tok(&save));
    const char *expect = next_tok(&save);
    bool expect_error = strcmp(expect, "error") == 0;
    bool shape_only = strcmp(expect, "diverge") == 0;
    op_run r;
    run_init(&r, op, opset, n_out);
    tensor_rec outs[H_MAX_IO];
    int n_outs = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0 && strncmp(line, "end", 3) != 0) {
        char *kind = strtok_r(line, " \t\n", &save);
        if (strcmp(kind, "attr") == 0) {
            add_attr(r.node, &save);
        } else if (strcmp(kind, "in") == 0) {
            next_tok(&save);
            const char *nm = next_tok(&save);
            if (strcmp(nm, "-") == 0) {
                run_input(&r, "", TQ_UNDEFINED, 0, NULL, NULL, false);
                continue;
            }
            tensor_rec t;
            parse_tensor(&save, &t);
            /* All inputs known: the executor's folding path. */
            run_input(&r, nm, t.dtype, t.rank, t.dims, t.data, true);
            free(t.data);
        } else if (strcmp(kind, "out") == 0 && n_outs < H_MAX_IO) {
            next_tok(&save);
            parse_tensor(&save, &outs[n_outs++]);
        }
    }
    free(line);
    (void)n_in;
    int rc = run_exec(&r);
    st->run++;
    int failed = 0;
    char buf[512];
    if (expect_error) {
        if (rc == TQ_OK) {
            print_message("FAIL %s: expected an error, op succeeded\n", name);
            failed = 1;
        } else if (!strstr(r.err.msg, "n0")) {
            print_message("FAIL %s: error does not name the node: %s\n", name, r.err.msg);
            failed = 1;
        }
    } else if (rc != TQ_OK) {
        print_message("FAIL %s: %s (code %d)\n", name, r.err.msg, rc);
        failed = 1;
    } else {
        for (int i = 0; i < n_outs && i < r.n_out; i++) {
            const char *why = compare(r.out[i], &outs[i], shape_only ? INFINITY : rtol, atol,
                                      buf, sizeof buf);
            if (why) {
                print_message("FAIL %s output %d: %s\n", name, i, why);
                failed = 1;
                break;
            }
        }
    }
    for (int i = 0; i < n_outs; i++)
        free(outs[i].data);
    run_free(&r);
    st->failed += failed;
    return failed;
}

static int access_python(void)
{
    FILE *p = fopen("/usr/bin/python3", "rb");
    if (!p)
        return -1;
    fclose(p);
    return 0;
}

static void test_all_cases(void **state)
{
    (void)state;
    const char *root = getenv("TQ_SOURCE_ROOT");
    const char *filter = getenv("TQ_OPS_FILTER"); /* substring, for debugging */
    if (!root || access_python() != 0)
        skip();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s/tests/ops' && /usr/bin/python3 gen_cases.py", root);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    case_stats st = { 0, 0 };
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, "case ", 5) != 0)
            continue;
        if (filter && !strstr(line, filter)) {
            char *skip_line = NULL;
            size_t c2 = 0;
            while (getline(&skip_line, &c2, f) > 0 && strncmp(skip_line, "end", 3) != 0)
                ;
            free(skip_line);
            continue;
        }
        run_case(f, line, &st);
    }
    free(line);
    int status = pclose(f);
    print_message("%d cases run, %d failed\n", st.run, st.failed);
    assert_int_equal(status, 0);    /* the generator itself succeeded */
    /* Every case emitted: ~180 conformance data sets when the ONNX test data is
     * installed, plus the ~150 numpy-made ones. */
    const char *td = getenv("TQ_ONNX_TESTDATA");
    bool have_conformance = td && *td && access(td, R_OK) == 0;
    assert_true(st.run > (filter ? 0 : have_conformance ? 300 : 150));
    assert_int_equal(st.failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
