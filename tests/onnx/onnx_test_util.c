/* Test helpers for the ONNX layer (see onnx_test_util.h). */
#define _POSIX_C_SOURCE 200809L
#include "onnx_test_util.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
    if (!b->s)
        abort();
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tqt_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    static const char hexd[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hexd[md[i] >> 4];
        out[2 * i + 1] = hexd[md[i] & 15];
    }
    out[64] = '\0';
}

static const char *or_dash(const char *s)
{
    return s && s[0] ? s : "-";
}

char *tqt_tensor_line(const tq_tensor *t)
{
    strbuf b = {0};
    if (t->dtype == TQ_STRING) {
        sb_printf(&b, "tensor %s string", or_dash(t->name));
        return b.s;
    }
    char hex[65];
    tqt_sha256_hex(t->data, t->nbytes, hex);
    sb_printf(&b, "tensor %s %d %d", or_dash(t->name), (int)t->dtype, t->rank);
    for (int i = 0; i < t->rank; i++)
        sb_printf(&b, " %lld", (long long)t->dims[i]);
    sb_printf(&b, " %s", hex);
    return b.s;
}

static void dump_vi(strbuf *b, const char *kind, const tq_value_info *v)
{
    sb_printf(b, "%s %s %d %d", kind, v->name, (int)v->dtype, v->rank);
    for (int i = 0; i < v->rank; i++)
        sb_printf(b, " %lld", (long long)v->dims[i]);
    sb_printf(b, "\n");
}

char *tqt_dump_model(const tq_model *m)
{
    strbuf b = {0};
    const tq_graph *g = &m->graph;
    sb_printf(&b, "ir_version %lld\n", (long long)m->ir_version);
    for (int i = 0; i < m->n_opsets; i++)
        sb_printf(&b, "opset %s %lld\n", or_dash(m->opsets[i].domain),
                  (long long)m->opsets[i].version);
    sb_printf(&b, "producer %s %s\n", or_dash(m->producer_name), or_dash(m->producer_version));
    for (int i = 0; i < m->n_meta; i++)
        sb_printf(&b, "meta %s=%s\n", m->meta[i].key, m->meta[i].value);
    int dup = 0;
    for (int i = 0; i < g->n_value_info; i++)
        dup += tq_graph_initializer_index(g, g->value_info[i].name) >= 0;
    sb_printf(&b, "graph %s nodes %d initializers %d value_info %d duplicates %d\n",
              or_dash(g->name), g->n_nodes, g->n_initializers, g->n_value_info, dup);
    for (int i = 0; i < g->n_nodes; i++) {
        const tq_node *n = &g->nodes[i];
        sb_printf(&b, "node %s %s %s in ", or_dash(n->name), n->op_type, or_dash(n->domain));
        for (int k = 0; k < n->n_inputs; k++)
            sb_printf(&b, "%s%s", k ? "," : "", n->inputs[k]);
        sb_printf(&b, " out ");
        for (int k = 0; k < n->n_outputs; k++)
            sb_printf(&b, "%s%s", k ? "," : "", n->outputs[k]);
        sb_printf(&b, " attrs ");
        for (int k = 0; k < n->n_attrs; k++)
            sb_printf(&b, "%s%s:%d", k ? "," : "", n->attrs[k].name, (int)n->attrs[k].type);
        sb_printf(&b, "\n");
    }
    for (int i = 0; i < g->n_initializers; i++) {
        char *line = tqt_tensor_line(&g->initializers[i]);
        sb_printf(&b, "%s\n", line);
        free(line);
    }
    int ni = tq_model_num_inputs(m);
    for (int i = 0; i < ni; i++) {
        tq_tensor_view v;
        tq_model_input(m, i, &v);
        sb_printf(&b, "input %s %d %d", v.name, (int)v.dtype, v.rank);
        for (int k = 0; k < v.rank; k++)
            sb_printf(&b, " %lld", (long long)v.dims[k]);
        sb_printf(&b, "\n");
    }
    for (int i = 0; i < g->n_outputs; i++)
        dump_vi(&b, "output", &g->outputs[i]);
    return b.s;
}

/* --- field-by-field comparison */

#define DIFF(...) (snprintf(why, why_len, __VA_ARGS__), 1)

static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static int cmp_tensor(const tq_tensor *a, const tq_tensor *b, const char *where, char *why,
                      size_t why_len)
{
    if (!str_eq(a->name, b->name))
        return DIFF("%s: name '%s' vs '%s'", where, a->name, b->name);
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes)
        return DIFF("%s '%s': dtype/rank/nbytes %d/%d/%zu vs %d/%d/%zu", where, a->name,
                    a->dtype, a->rank, a->nbytes, b->dtype, b->rank, b->nbytes);
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return DIFF("%s '%s': dim %d differs", where, a->name, i);
    if (a->nbytes && memcmp(a->data, b->data, a->nbytes) != 0)
        return DIFF("%s '%s': data differs", where, a->name);
    return 0;
}

static int cmp_vi(const tq_value_info *a, const tq_value_info *b, const char *where, char *why,
                  size_t why_len)
{
    if (!str_eq(a->name, b->name) || a->dtype != b->dtype || a->rank != b->rank)
        return DIFF("%s '%s' vs '%s': name/dtype/rank differ", where, a->name, b->name);
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i] || !str_eq(a->dim_params[i], b->dim_params[i]))
            return DIFF("%s '%s': dim %d differs", where, a->name, i);
    return 0;
}

static int cmp_attr(const tq_attr *a, const tq_attr *b, const char *node, char *why,
                    size_t why_len)
{
    if (!str_eq(a->name, b->name) || a->type != b->type)
        return DIFF("node '%s': attribute '%s' name/type differ", node, a->name);
    int same = 1;
    switch (a->type) {
    case TQ_ATTR_FLOAT: same = memcmp(&a->f, &b->f, sizeof a->f) == 0; break;
    case TQ_ATTR_INT: same = a->i == b->i; break;
    case TQ_ATTR_STRING: same = str_eq(a->s, b->s); break;
    case TQ_ATTR_TENSOR: return cmp_tensor(a->t, b->t, "attribute tensor", why, why_len);
    case TQ_ATTR_FLOATS:
        same = a->n == b->n && (!a->n || memcmp(a->floats, b->floats, a->n * sizeof(float)) == 0);
        break;
    case TQ_ATTR_INTS:
        same = a->n == b->n && (!a->n || memcmp(a->ints, b->ints, a->n * sizeof(int64_t)) == 0);
        break;
    case TQ_ATTR_STRINGS:
        same = a->n == b->n;
        for (int i = 0; same && i < a->n; i++)
            same = str_eq(a->strings[i], b->strings[i]);
        break;
    default: break;
    }
    return same ? 0 : DIFF("node '%s': attribute '%s' value differs", node, a->name);
}

static int cmp_names(char **a, int na, char **b, int nb)
{
    if (na != nb)
        return 1;
    for (int i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return 1;
    return 0;
}

int tqt_compare_models(const tq_model *a, const tq_model *b, char *why, size_t why_len)
{
    if (a->ir_version != b->ir_version || a->model_version != b->model_version)
        return DIFF("ir_version/model_version differ");
    if (!str_eq(a->producer_name, b->producer_name) ||
        !str_eq(a->producer_version, b->producer_version) || !str_eq(a->domain, b->domain) ||
        !str_eq(a->doc_string, b->doc_string))
        return DIFF("producer/domain/doc_string differ");
    if (a->n_opsets != b->n_opsets)
        return DIFF("opset count %d vs %d", a->n_opsets, b->n_opsets);
    for (int i = 0; i < a->n_opsets; i++)
        if (!str_eq(a->opsets[i].domain, b->opsets[i].domain) ||
            a->opsets[i].version != b->opsets[i].version)
            return DIFF("opset %d differs", i);
    if (a->n_meta != b->n_meta)
        return DIFF("metadata count differs");
    for (int i = 0; i < a->n_meta; i++)
        if (!str_eq(a->meta[i].key, b->meta[i].key) || !str_eq(a->meta[i].value, b->meta[i].value))
            return DIFF("metadata %d differs", i);
    const tq_graph *ga = &a->graph, *gb = &b->graph;
    if (!str_eq(ga->name, gb->name))
        return DIFF("graph name differs");
    if (ga->n_nodes != gb->n_nodes || ga->n_initializers != gb->n_initializers ||
        ga->n_inputs != gb->n_inputs || ga->n_outputs != gb->n_outputs ||
        ga->n_value_info != gb->n_value_info)
        return DIFF("graph element counts differ");
    for (int i = 0; i < ga->n_nodes; i++) {
        const tq_node *x = &ga->nodes[i], *y = &gb->nodes[i];
        if (!str_eq(x->name, y->name) || !str_eq(x->op_type, y->op_type) ||
            !str_eq(x->domain, y->domain))
            return DIFF("node %d '%s': name/op_type/domain differ", i, x->name);
        if (cmp_names(x->inputs, x->n_inputs, y->inputs, y->n_inputs) ||
            cmp_names(x->outputs, x->n_outputs, y->outputs, y->n_outputs))
            return DIFF("node '%s': inputs/outputs differ", x->name);
        if (x->n_attrs != y->n_attrs)
            return DIFF("node '%s': attribute count differs", x->name);
        for (int k = 0; k < x->n_attrs; k++)
            if (cmp_attr(&x->attrs[k], &y->attrs[k], x->name, why, why_len))
                return 1;
    }
    for (int i = 0; i < ga->n_initializers; i++)
        if (cmp_tensor(&ga->initializers[i], &gb->initializers[i], "initializer", why, why_len))
            return 1;
    for (int i = 0; i < ga->n_inputs; i++)
        if (cmp_vi(&ga->inputs[i], &gb->inputs[i], "input", why, why_len))
            return 1;
    for (int i = 0; i < ga->n_outputs; i++)
        if (cmp_vi(&ga->outputs[i], &gb->outputs[i], "output", why, why_len))
            return 1;
    for (int i = 0; i < ga->n_value_info; i++)
        if (cmp_vi(&ga->value_info[i], &gb->value_info[i], "value_info", why, why_len))
            return 1;
    return 0;
}

/* --- processes and files */

char *tqt_run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p) {
        *status = -1;
        return NULL;
    }
    strbuf b = {0};
    sb_printf(&b, "%s", "");
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk - 1, p)) > 0) {
        chunk[n] = '\0';
        sb_printf(&b, "%s", chunk);
    }
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return b.s;
}

char *tqt_reference(const char *mode, const char *args)
{
    const char *root = getenv("TQ_SOURCE_ROOT");
    if (!root)
        return NULL;
    strbuf cmd = {0};
    sb_printf(&cmd, "/usr/bin/python3 '%s/tests/onnx/onnx_reference.py' %s %s", root, mode, args);
    int st;
    char *out = tqt_run(cmd.s, &st);
    free(cmd.s);
    if (st != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *tqt_first_diff(const char *a, const char *b)
{
    int line = 1;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || strncmp(a, b, la) != 0) {
            strbuf r = {0};
            sb_printf(&r, "line %d:\n  tinyq:     %.*s\n  reference: %.*s", line, (int)la, a,
                      (int)lb, b);
            return r.s;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
        line++;
    }
    return NULL;
}

char *tqt_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    strbuf b = {0};
    sb_printf(&b, "%s/tinyq-onnx-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b.s)) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

void tqt_rmdir(char *dir)
{
    if (!dir)
        return;
    strbuf cmd = {0};
    sb_printf(&cmd, "rm -rf '%s'", dir);
    if (system(cmd.s) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
    free(cmd.s);
    free(dir);
}

const char *tqt_seed_models(void)
{
    const char *dir = getenv("TQ_SEED_MODELS");
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: seed models folder '%s' not found (set -Dseed_models=...)\n",
               dir ? dir : "(TQ_SEED_MODELS unset)");
        return NULL;
    }
    return dir;
}
