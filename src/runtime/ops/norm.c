/* Op family 'norm': BatchNormalization in inference form on fp32,
 * y = x * s[c] + t[c] with s = scale / sqrt(var + eps), t = B - mean * s,
 * folded once in prepare when the statistics are constants. */
#include <math.h>
#include <stdlib.h>

#include "runtime/op.h"

typedef struct bn_state {
    int64_t batch, channels, inner;
    float epsilon, momentum;
    bool training;    /* training_mode=1: normalise with the batch statistics */
    float *st;        /* s[C] then t[C]; owned when folded in prepare, else NULL */
} bn_state;

static void bn_release(void *p)
{
    bn_state *st = p;
    if (st)
        free(st->st);
    free(st);
}

static void fold(const tq_op_ctx *c, float eps, int64_t ch, float *s, float *t)
{
    const float *scale = c->in[1]->data, *bias = c->in[2]->data;
    const float *mean = c->in[3]->data, *var = c->in[4]->data;
    for (int64_t i = 0; i < ch; i++) {
        s[i] = scale[i] / sqrtf(var[i] + eps);
        t[i] = bias[i] - mean[i] * s[i];
    }
}

/* Batch statistics (population variance, in double) -> s, t, and the
 * running-statistics outputs: input * momentum + batch * (1 - momentum). */
static void train_fold(tq_op_ctx *c, const bn_state *st, float *s, float *t)
{
    const float *x = c->in[0]->data, *scale = c->in[1]->data, *bias = c->in[2]->data;
    const float *rmean = c->in[3]->data, *rvar = c->in[4]->data;
    float *out_mean = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
    float *out_var = c->n_out > 2 && c->out[2] ? c->out[2]->data : NULL;
    double count = (double)(st->batch * st->inner);
    for (int64_t ch = 0; ch < st->channels; ch++) {
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < st->batch; n++) {
            const float *xp = x + (n * st->channels + ch) * st->inner;
            for (int64_t i = 0; i < st->inner; i++)
                sum += xp[i];
        }
        double mean = count > 0 ? sum / count : 0;
        for (int64_t n = 0; n < st->batch; n++) {
            const float *xp = x + (n * st->channels + ch) * st->inner;
            for (int64_t i = 0; i < st->inner; i++)
                sq += (xp[i] - mean) * (xp[i] - mean);
        }
        double var = count > 0 ? sq / count : 0;
        s[ch] = (float)(scale[ch] / sqrt(var + st->epsilon));
        t[ch] = (float)(bias[ch] - mean * s[ch]);
        if (out_mean)
            out_mean[ch] = (float)(rmean[ch] * st->momentum + mean * (1 - st->momentum));
        if (out_var)
            out_var[ch] = (float)(rvar[ch] * st->momentum + var * (1 - st->momentum));
    }
}

static int bn_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 5, 5);
    if (rc)
        return rc;
    bool training = tq_node_attr_int(c->node, "training_mode", 0) != 0;
    if (!training && c->n_out > 1)
        for (int i = 1; i < c->n_out; i++)
            if (c->out[i])
                return tq_op_fail(c, TQ_EUNSUPPORTED,
                                  "running mean/var outputs need training_mode=1");
    const tq_value *x = c->in[0];
    if (x->rank < 2)
        return tq_op_fail(c, TQ_EFORMAT, "input '%s' has rank %d, needs at least [N, C]",
                          x->name, x->rank);
    int64_t ch = x->dims[1];
    for (int i = 0; i < 5; i++) {
        const tq_value *v = c->in[i];
        if (v->dtype != TQ_FLOAT)
            return tq_op_fail(c, v->dtype == TQ_FLOAT16 ? TQ_EUNSUPPORTED : TQ_EFORMAT,
                              "input '%s' is %s; only float32 is supported", v->name,
                              tq_dtype_name(v->dtype));
        if (i > 0 && tq_value_numel(v) != ch)
            return tq_op_fail(c, TQ_EFORMAT,
                              "'%s' has %lld values but input '%s' has %lld channels", v->name,
                              (long long)tq_value_numel(v), x->name, (long long)ch);
    }
    bn_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->batch = x->dims[0];
    st->channels = ch;
    st->inner = 1;
    for (int i = 2; i < x->rank; i++)
        st->inner *= x->dims[i];
    st->epsilon = tq_node_attr_float(c->node, "epsilon", 1e-5f);
    st->momentum = tq_node_attr_float(c->node, "momentum", 0.9f);
    st->training = training;
    int64_t cd[1] = { ch };
    for (int i = 1; i < c->n_out && i < 3; i++)
        if (c->out[i])
            tq_value_set_shape(c->out[i], TQ_FLOAT, 1, cd);
    bool all_const = !training;
    for (int i = 1; i < 5; i++)
        all_const = all_const && c->in[i]->is_const;
    if (all_const) {
        st->st = malloc((size_t)(2 * ch + 1) * sizeof(float));
        if (!st->st)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        fold(c, st->epsilon, ch, st->st, st->st + ch);
    } else {
        c->scratch_bytes = (size_t)(2 * ch) * sizeof(float);
    }
    tq_value_set_shape(c->out[0], TQ_FLOAT, x->rank, x->dims);
    return TQ_OK;
}

static int bn_eval(tq_op_ctx *c)
{
    const bn_state *st = c->state;
    float *s = st->st;
    if (st->training) {
        s = c->scratch;
        train_fold(c, st, s, s + st->channels);
    } else if (!s) {
        s = c->scratch;
        fold(c, st->epsilon, st->channels, s, s + st->channels);
    }
    const float *t = s + st->channels;
    const float *x = c->in[0]->data;
    float *y = c->out[0]->data;
    for (int64_t n = 0; n < st->batch; n++)
        for (int64_t ch = 0; ch < st->channels; ch++) {
            const float *xp = x + (n * st->channels + ch) * st->inner;
            float *yp = y + (n * st->channels + ch) * st->inner;
            float sc = s[ch], sh = t[ch];
            for (int64_t i = 0; i < st->inner; i++)
                yp[i] = xp[i] * sc + sh;
        }
    return TQ_OK;
}

static const tq_op_def op_batchnorm = { "", "BatchNormalization", bn_prepare, bn_eval,
                                        bn_release };

const tq_op_def *const tq_ops_norm[] = { &op_batchnorm, NULL };
