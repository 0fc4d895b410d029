/* `tinyq run MODEL [-i IN.npz] [-o OUT.npz]`: run the graph as ONNX defines it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/npz.h"
#include "runtime/run_set.h"
#include "runtime/synthetic.h"
#include "util/error.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tinyq run MODEL.onnx [-i IN.npz] [-o OUT.npz] [--per-sample]\n\n"
            "Runs the graph exactly as ONNX defines it (no sidecar scaling: that belongs\n"
            "to the registry loader) and prints a summary of every output.\n\n"
            "  -i IN.npz      inputs, one entry per model input name (run as one batch)\n"
            "  -o OUT.npz     write the outputs (keys = output names)\n"
            "  --per-sample   run the rows of axis 0 one at a time, concatenating outputs\n\n"
            "Without -i the model runs on the deterministic synthetic set (SPEC §4):\n"
            "numpy default_rng(0), %d samples, each rng.random(shape, float32) per input\n"
            "with dynamic dimensions set to 1, one sample at a time.\n\n"
            "Example:\n  tinyq run model.onnx -i inputs.npz -o outputs.npz\n",
            TQ_SYNTHETIC_SAMPLES);
}

/* The synthetic set as a tensor set stacked on axis 0. */
static int synthetic_set(const tq_model *m, tq_tensor_set *set, tq_error *err)
{
    memset(set, 0, sizeof *set);
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, 0);
    int rc = TQ_OK;
    for (int s = 0; s < TQ_SYNTHETIC_SAMPLES && rc == TQ_OK; s++) {
        tq_tensor sample[16];
        int n = 0;
        rc = tq_synthetic_sample(m, &rng, sample, 16, &n, err);
        if (rc)
            break;
        if (s == 0) {
            /* Allocate the stacked [16, ...] tensors once, from the first sample's shapes. */
            for (int i = 0; i < n && rc == TQ_OK; i++) {
                tq_tensor stacked = sample[i];
                if (stacked.rank == 0) {
                    stacked.rank = 1;
                    stacked.dims[0] = 1;
                }
                stacked.dims[0] *= TQ_SYNTHETIC_SAMPLES;
                stacked.nbytes = sample[i].nbytes * TQ_SYNTHETIC_SAMPLES;
                stacked.data = calloc(1, stacked.nbytes ? stacked.nbytes : 1);
                rc = stacked.data ? tq_tensor_set_add(set, &stacked, err)
                                  : tq_fail(err, TQ_ENOMEM, "out of memory");
                free(stacked.data);
            }
        }
        for (int i = 0; i < n; i++) {
            if (rc == TQ_OK) {
                tq_tensor *dst = &set->t[i];
                memcpy((char *)dst->data + (size_t)s * sample[i].nbytes, sample[i].data,
                       sample[i].nbytes);
            }
            tq_tensor_clear(&sample[i]);
        }
    }
    if (rc)
        tq_tensor_set_free(set);
    return rc;
}

static void print_summary(const tq_tensor *t)
{
    printf("%s: %s [", t->name, tq_dtype_name(t->dtype));
    for (int d = 0; d < t->rank; d++)
        printf("%s%lld", d ? "," : "", (long long)t->dims[d]);
    printf("]");
    int64_t n = tq_tensor_numel(t);
    if (t->dtype != TQ_FLOAT || n <= 0) {
        printf("\n");
        return;
    }
    const float *f = t->data;
    double lo = f[0], hi = f[0], sum = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, f[i]);
        hi = fmax(hi, f[i]);
        sum += f[i];
    }
    printf(" min %.6g max %.6g mean %.6g\n  values:", lo, hi, sum / (double)n);
    for (int64_t i = 0; i < n && i < 8; i++)
        printf(" %.6g", f[i]);
    printf("%s\n", n > 8 ? " ..." : "");
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *path = NULL, *in_path = NULL, *out_path = NULL;
    int per_sample = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-i") == 0 && i + 1 < argc)
            in_path = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--per-sample") == 0)
            per_sample = 1;
        else if (argv[i][0] == '-')
            return cli_usage_error("run", "unknown option '%s'", argv[i]);
        else if (!path)
            path = argv[i];
        else
            return cli_usage_error("run", "one model at a time ('%s' is extra)", argv[i]);
    }
    if (!path)
        return cli_usage_error("run", "missing MODEL.onnx");

    tq_error err = {0};
    tq_model *m = NULL;
    tq_session *s = NULL;
    tq_tensor_set in = {0}, out = {0};
    int rc = tq_model_load(&m, path, &err);
    if (!rc)
        rc = tq_session_create(&s, m, &err);
    if (!rc && in_path)
        rc = tq_npz_read(in_path, &in, &err);
    else if (!rc) {
        rc = synthetic_set(m, &in, &err);
        per_sample = 1;
    }
    if (!rc)
        rc = tq_run_set(s, m, &in, in_path ? in_path : "synthetic set", per_sample, &out, &err);
    if (!rc && out_path)
        rc = tq_npz_write(out_path, &out, 1, &err);
    if (!rc) {
        printf("%s: ran %s%s\n", path,
               in_path ? in_path : "the synthetic set (seed 0, 16 samples)",
               per_sample && in_path ? " one sample at a time" : "");
        for (int k = 0; k < out.n; k++)
            print_summary(&out.t[k]);
        if (out_path)
            printf("wrote %s\n", out_path);
    }
    tq_tensor_set_free(&in);
    tq_tensor_set_free(&out);
    tq_session_free(&s);
    tq_model_free(&m);
    return rc ? cli_report(&err) : EXIT_OK;
}
