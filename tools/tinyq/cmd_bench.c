/* `tinyq bench MODEL...`: latency and throughput, one thread, side by side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_util.h"
#include "runtime/session_internal.h"
#include "runtime/synthetic.h"
#include "util/error.h"

#define MAX_MODELS 8

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq bench MODEL.onnx [MODEL2.onnx ...] [--batch N] [--iters K]\n"
            "                   [--warmup W] [--json] [--profile]\n\n"
            "Times one inference call (single thread) on random inputs with every dynamic\n"
            "dimension set to the batch size, and prints min and median latency and\n"
            "throughput. With two or more models it also prints each one's median latency\n"
            "as a ratio of the first (e.g. fp32 first, int8 second: the int8/fp32 ratio).\n\n"
            "  --batch N    batch size for dynamic dimensions (default 1)\n"
            "  --iters K    timed runs per model (default: as many as fit in ~1 s, 20..100000)\n"
            "  --warmup W   untimed runs first (default 5)\n"
            "  --json       one JSON line per model instead of the table\n"
            "  --profile    after each model's row, the time per node over as many more\n"
            "               runs, largest mean first, with each node's fastest run (min,\n"
            "               steadier on a shared machine): op type, output shape, weight\n"
            "               shape for convolutions, output name. Where a model's latency\n"
            "               goes (the per-node clock reads make these runs a little slower)\n");
}

/* Per-node time from the session observer: it is called with each node's
 * outputs right after the node ran, so the time since the previous call is
 * the node's (its later outputs add ~0). */
#define MAX_PROFILED 512
typedef struct node_profile {
    const char *name[MAX_PROFILED];
    double us[MAX_PROFILED];  /* summed over the runs */
    double min[MAX_PROFILED]; /* fastest run: steadier on a shared machine */
    int n;
    double last;
} node_profile;

static double now_us(void);

static void profile_observe(const tq_value *v, void *user)
{
    node_profile *p = user;
    double t = now_us();
    if (v->is_graph_input) {
        p->last = t;
        return;
    }
    int i = 0;
    while (i < p->n && p->name[i] != v->name)
        i++;
    if (i == p->n && p->n < MAX_PROFILED) {
        p->name[p->n] = v->name;
        p->min[p->n++] = INFINITY;
    }
    if (i < p->n) {
        p->us[i] += t - p->last;
        p->min[i] = fmin(p->min[i], t - p->last);
    }
    p->last = now_us();
}

/* "Conv [1,16,28,28]": the op that wrote the value and the value's shape */
static void describe_value(const tq_session *s, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "?");
    for (int i = 0; i < s->n_nodes; i++) {
        const tq_op_ctx *c = &s->nodes[i].ctx;
        if (c->n_out < 1 || !c->out[0] || c->out[0]->name != name)
            continue;
        int k = snprintf(buf, n, "%s [", s->nodes[i].def->op_type);
        for (int d = 0; d < c->out[0]->rank && k > 0 && (size_t)k < n; d++)
            k += snprintf(buf + k, n - (size_t)k, "%s%lld", d ? "," : "",
                          (long long)c->out[0]->dims[d]);
        if (k > 0 && (size_t)k < n)
            k += snprintf(buf + k, n - (size_t)k, "]");
        /* convolutions: the weight shape tells the layers apart (input 3
         * of QLinearConv, input 1 of the others) */
        const char *op = s->nodes[i].def->op_type;
        int wi = strcmp(op, "QLinearConv") == 0 ? 3 : 1;
        const tq_value *w = strstr(op, "Conv") && c->n_in > wi ? c->in[wi] : NULL;
        if (w && w->rank == 4)
            for (int d = 0; d < 4 && k > 0 && (size_t)k < n; d++)
                k += snprintf(buf + k, n - (size_t)k, "%s%lld", d ? "x" : " w",
                              (long long)w->dims[d]);
        return;
    }
}

static void profile_print(FILE *f, const tq_session *s, node_profile *p, long iters)
{
    double total = 0;
    for (int i = 0; i < p->n; i++)
        total += p->us[i];
    /* selection sort: a few dozen nodes */
    for (int i = 0; i < p->n; i++) {
        int best = i;
        for (int j = i + 1; j < p->n; j++)
            if (p->us[j] > p->us[best])
                best = j;
        double u = p->us[i], m = p->min[i];
        const char *nm = p->name[i];
        p->us[i] = p->us[best], p->min[i] = p->min[best], p->name[i] = p->name[best];
        p->us[best] = u, p->min[best] = m, p->name[best] = nm;
        char what[96];
        describe_value(s, p->name[i], what, sizeof what);
        fprintf(f, "  %9.2f us %5.1f%%  min %8.2f us  %-28s %s\n", p->us[i] / (double)iters,
                total > 0 ? 100.0 * p->us[i] / total : 0.0, p->min[i], what, p->name[i]);
    }
}

typedef struct bench_result {
    double min_us, median_us;
    long iters;
    char *profile; /* --profile: the per-node table, printed after the row */
} bench_result;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench_one(const char *path, long batch, long iters, long warmup, bool profile,
                     bench_result *res, tq_error *err)
{
    node_profile *prof = NULL;
    tq_model *m = NULL;
    tq_session *s = NULL;
    const tq_value_info *infos[16];
    tq_tensor_view views[16], outs[16];
    void *bufs[16] = {0};
    double *times = NULL;
    int rc = tq_model_load(&m, path, err);
    if (rc)
        return rc;
    int n_in = tq_model_runtime_inputs(m, infos, 16);
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, 0);
    if (n_in > 16)
        rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: too many inputs", path);
    for (int i = 0; i < n_in && !rc; i++) {
        const tq_value_info *v = infos[i];
        views[i] = (tq_tensor_view){.name = v->name, .dtype = v->dtype, .rank = v->rank};
        for (int d = 0; d < v->rank; d++)
            views[i].dims[d] = v->dims[d] >= 0 ? v->dims[d] : batch;
        int64_t numel = tq_shape_numel(views[i].dims, v->rank);
        size_t es = tq_dtype_size(v->dtype);
        if (numel < 0 || es == 0) {
            rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s' has no usable shape or type", path,
                         v->name);
            break;
        }
        bufs[i] = calloc((size_t)numel + 1, es);
        if (!bufs[i]) {
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
            break;
        }
        if (v->dtype == TQ_FLOAT)
            tq_pcg64_fill_float(&rng, bufs[i], (size_t)numel);
        views[i].data = bufs[i];
    }
    if (!rc)
        rc = tq_session_create(&s, m, err);
    for (long i = 0; i < warmup && !rc; i++)
        rc = tq_session_run(s, views, n_in, outs, 16, err);
    if (!rc && iters <= 0) {
        /* Calibrate: as many runs as fit in about a second. */
        double t0 = now_us();
        long n = 0;
        while (!rc && now_us() - t0 < 100000.0 && n < 10000)
            rc = tq_session_run(s, views, n_in, outs, 16, err), n++;
        double per = (now_us() - t0) / (double)(n ? n : 1);
        iters = (long)(1e6 / (per > 0.01 ? per : 0.01));
        iters = iters < 20 ? 20 : iters > 100000 ? 100000 : iters;
    }
    if (!rc && !(times = malloc(sizeof(double) * (size_t)iters)))
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!rc && profile) {
        /* the observer's clock reads slow every run a little: profiled
         * latencies are not the table's */
        if (!(prof = calloc(1, sizeof *prof)))
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    }
    for (long i = 0; i < iters && !rc; i++) {
        double t0 = now_us();
        rc = tq_session_run(s, views, n_in, outs, 16, err);
        times[i] = now_us() - t0;
    }
    if (!rc) {
        qsort(times, (size_t)iters, sizeof(double), cmp_double);
        res->min_us = times[0];
        res->median_us = times[iters / 2];
        res->iters = iters;
    }
    if (!rc && prof) {
        /* profile runs apart from the timed ones */
        tq_session_set_observer(s, profile_observe, prof);
        for (long i = 0; i < iters && !rc; i++)
            rc = tq_session_run(s, views, n_in, outs, 16, err);
        size_t len = 0;
        FILE *f = rc ? NULL : open_memstream(&res->profile, &len);
        if (f) {
            fprintf(f, "%s: time per node over %ld more runs\n", path, iters);
            profile_print(f, s, prof, iters);
            fclose(f);
        }
    }
    free(prof);
    free(times);
    for (int i = 0; i < 16; i++)
        free(bufs[i]);
    tq_session_free(&s);
    tq_model_free(&m);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *paths[MAX_MODELS];
    int n = 0, json = 0;
    bool profile = false;
    long batch = 1, iters = 0, warmup = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 1 << 20, &batch))
                return cli_usage_error("bench", "--batch wants a positive integer, got '%s'", argv[i]);
        } else if (strcmp(a, "--iters") == 0 && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 10000000, &iters))
                return cli_usage_error("bench", "--iters wants a positive integer, got '%s'", argv[i]);
        } else if (strcmp(a, "--warmup") == 0 && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 0, 1000000, &warmup))
                return cli_usage_error("bench", "--warmup wants an integer >= 0, got '%s'", argv[i]);
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--profile") == 0) {
            profile = true;
        } else if (a[0] == '-') {
            return cli_usage_error("bench", "unknown option '%s'", a);
        } else if (n < MAX_MODELS) {
            paths[n++] = a;
        } else {
            return cli_usage_error("bench", "at most %d models", MAX_MODELS);
        }
    }
    if (n == 0)
        return cli_usage_error("bench", "missing MODEL.onnx");
    bench_result res[MAX_MODELS] = { { 0 } };
    if (!json)
        printf("%-40s %6s %11s %11s %12s %8s\n", "model", "batch", "min_us", "median_us",
               "samples/s", "ratio");
    for (int i = 0; i < n; i++) {
        tq_error err = {0};
        if (bench_one(paths[i], batch, iters, warmup, profile, &res[i], &err)) {
            for (int j = 0; j <= i; j++)
                free(res[j].profile);
            return cli_report(&err);
        }
        double tput = (double)batch * 1e6 / res[i].median_us;
        double ratio = res[i].median_us / res[0].median_us;
        if (json)
            printf("{\"model\":\"%s\",\"batch\":%ld,\"iters\":%ld,\"min_us\":%.3f,"
                   "\"median_us\":%.3f,\"samples_per_s\":%.1f,\"ratio_to_first\":%.4f}\n",
                   paths[i], batch, res[i].iters, res[i].min_us, res[i].median_us, tput, ratio);
        else
            printf("%-40s %6ld %11.1f %11.1f %12.0f %7.2fx\n", paths[i], batch, res[i].min_us,
                   res[i].median_us, tput, ratio);
        if (res[i].profile) /* with --json on stderr: stdout stays JSON lines */
            fputs(res[i].profile, json ? stderr : stdout);
        fflush(stdout);
    }
    for (int i = 0; i < n; i++)
        free(res[i].profile);
    return EXIT_OK;
}
