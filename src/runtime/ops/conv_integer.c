/* ConvInteger (int32 out) and QLinearConv (8-bit out, per-channel weight
 * scales and zero points, int32 bias folded into the accumulator start
 * values), both on the exact integer engine in qconv.c; a 3x3 depthwise
 * QLinearConv (or a group-1 one of a 1-channel input) takes the one-pass
 * kernel of kernels/qlinear_dw.h when its sums provably stay exact in float. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qlinear_dw.h"
#include "runtime/ops/qcommon.h"
#include "runtime/ops/qconv.h"

typedef struct qconv_state {
    tq_qconv q;
    int32_t *bias;   /* QLinearConv: int32 bias per output channel, or NULL */
    float *mult;     /* QLinearConv: requant multiplier per output channel */
    int y_zp;
    bool y_signed;
    uint8_t *y;      /* eval-time output pointer for the epilogue */
    const tq_qdsp *d; /* eval-time kernel table */
    /* QLinearConv depthwise 3x3 (see the top): taps as float, 9 per output
     * channel (w - w_zp), and the bias as float at eval; NULL = not taken */
    float *dw_w, *dw_bias;
    tq_conv2d_geom dw_geom;
} qconv_state;

static void qconv_state_release(void *p)
{
    qconv_state *st = p;
    if (!st)
        return;
    tq_qconv_release(&st->q);
    free(st->bias);
    free(st->mult);
    free(st->dw_w);
    free(st->dw_bias);
    free(st);
}

static int zp_scalar(tq_op_ctx *c, int i, int *zp)
{
    const tq_value *v = i < c->n_in ? c->in[i] : NULL;
    if (!v) {
        *zp = 0;
        return TQ_OK;
    }
    if (tq_value_numel(v) != 1)
        return tq_op_fail(c, TQ_EUNSUPPORTED,
                          "input zero point '%s' must be a scalar (per-tensor)", v->name);
    int32_t z;
    int rc = tq_qparam_zp(c, i, 1, &z);
    *zp = z;
    return rc;
}

/* ---- ConvInteger: x, w, x_zero_point, w_zero_point */

static int convint_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 2, 4);
    if (rc)
        return rc;
    const tq_value *xz = c->n_in > 2 ? c->in[2] : NULL;
    if (xz && xz->dtype != c->in[0]->dtype)
        return tq_op_fail(c, TQ_EFORMAT, "zero point '%s' must have the input's type",
                          xz->name);
    qconv_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    int64_t od[4];
    if ((rc = tq_qconv_prepare(c, &st->q, 0, 1, 3, &c->scratch_bytes, od)))
        return rc;
    tq_value_set_shape(c->out[0], TQ_INT32, 4, od);
    return TQ_OK;
}

static int convint_eval(tq_op_ctx *c)
{
    qconv_state *st = c->state;
    int xzp = 0, rc = zp_scalar(c, 2, &xzp);
    if (rc)
        return rc;
    const int16_t *w = st->q.wpack;
    if (!w) {
        int16_t *wb = tq_qconv_wbuf(&st->q, c->scratch);
        if ((rc = tq_qconv_pack_weights(c, &st->q, 1, 3, wb)))
            return rc;
        w = wb;
    }
    tq_qconv_run(&st->q, tq_qdsp_get(), w, c->in[0]->data, xzp, NULL, c->out[0]->data,
                 c->scratch, NULL, NULL);
    return TQ_OK;
}

/* ---- QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B */

static int qlconv_params(tq_op_ctx *c, qconv_state *st)
{
    int64_t cout = st->q.cout;
    float xs, ys;
    int32_t yz;
    float *ws = malloc(sizeof(float) * (size_t)cout);
    if (!ws)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    int rc = tq_qparam_scale(c, 1, 1, &xs);
    if (!rc)
        rc = tq_qparam_scale(c, 4, (int)cout, ws);
    if (!rc)
        rc = tq_qparam_scale(c, 6, 1, &ys);
    if (!rc)
        rc = tq_qparam_zp(c, 7, 1, &yz);
    if (!rc)
        for (int64_t o = 0; o < cout; o++)
            st->mult[o] = xs * ws[o] / ys; /* ONNX Runtime's order */
    free(ws);
    st->y_zp = yz;
    if (!rc && c->n_in > 8 && c->in[8]) {
        const tq_value *b = c->in[8];
        if (b->dtype != TQ_INT32 || tq_value_numel(b) != cout)
            return tq_op_fail(c, TQ_EFORMAT, "bias '%s' must be int32 with %lld values",
                              b->name, (long long)cout);
        memcpy(st->bias, b->data, sizeof(int32_t) * (size_t)cout);
    }
    return rc;
}

static int qlconv_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 8, 9);
    if (rc)
        return rc;
    const tq_value *x = c->in[0], *xz = c->in[2], *yz = c->in[7];
    if (xz && xz->dtype != x->dtype)
        return tq_op_fail(c, TQ_EFORMAT, "zero point '%s' must have the input's type",
                          xz->name);
    if (!tq_is_q8(yz->dtype))
        return tq_op_fail(c, TQ_EFORMAT, "output zero point '%s' must be int8 or uint8",
                          yz->name);
    qconv_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    int64_t od[4];
    if ((rc = tq_qconv_prepare(c, &st->q, 0, 3, 5, &c->scratch_bytes, od)))
        return rc;
    st->mult = malloc(sizeof(float) * (size_t)st->q.cout);
    st->bias = calloc((size_t)st->q.cout, sizeof(int32_t));
    if (!st->mult || !st->bias)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    st->y_signed = yz->dtype == TQ_INT8;
    tq_value_set_shape(c->out[0], yz->dtype, 4, od);
    if ((rc = tq_qconv_dw3x3(c, &st->q, &st->dw_geom, &st->dw_w)))
        return rc;
    if (st->dw_w && !(st->dw_bias = malloc(sizeof(float) * (size_t)st->q.cout)))
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    return TQ_OK;
}

/* The depthwise kernel sums in float: exact while every partial sum stays
 * below 2^24 (|x - x_zp| <= 255); it converts acc * mult to int32, which
 * needs |acc * mult| < 2^30. The bias and multipliers are known at eval. */
static bool dw_exact(const qconv_state *st)
{
    for (int64_t o = 0; o < st->q.cout; o++) {
        double bound = fabs((double)st->bias[o]);
        for (int t = 0; t < 9; t++)
            bound += 255.0 * fabs((double)st->dw_w[o * 9 + t]);
        if (bound >= 16777216.0 || !(bound * fabs((double)st->mult[o]) < 1073741824.0))
            return false;
    }
    return true;
}

static void qlconv_dw_eval(tq_op_ctx *c, qconv_state *st, int xzp)
{
    const tq_qconv *q = &st->q;
    tq_qlinear_dw_fn fn = tq_qlinear_dw_get();
    for (int64_t o = 0; o < q->cout; o++)
        st->dw_bias[o] = (float)st->bias[o];
    int64_t in_plane = q->ih * q->iw;
    for (int64_t b = 0; b < q->batch; b++)
        for (int64_t g = 0; g < q->group; g++) {
            int64_t o0 = g * q->cout_g;
            tq_qlinear_dw_args a = { .x_zp = xzp, .x_signed = q->x_signed,
                                     .y_signed = st->y_signed, .y_zp = st->y_zp,
                                     .nout = (int)q->cout_g, .w = st->dw_w + 9 * o0,
                                     .bias = st->dw_bias + o0, .mult = st->mult + o0 };
            fn(&st->dw_geom, (const uint8_t *)c->in[0]->data + (b * q->cin + g) * in_plane, &a,
               (uint8_t *)c->out[0]->data + (b * q->cout + o0) * q->pixels, (size_t)q->pixels);
        }
}

static void qlconv_epilogue(void *user, int64_t n, int64_t c0, int64_t nc, int64_t p0,
                            int64_t np, int32_t *acc, size_t ld)
{
    qconv_state *st = user;
    int64_t pixels = st->q.pixels;
    for (int64_t o = 0; o < nc; o++) {
        uint8_t *y = st->y + ((n * st->q.cout + c0 + o) * pixels + p0);
        st->d->requant(acc + o * (int64_t)ld, (int)np, st->mult[c0 + o], st->y_zp, st->y_signed,
                       y);
    }
}

static int qlconv_eval(tq_op_ctx *c)
{
    qconv_state *st = c->state;
    int xzp = 0, rc = zp_scalar(c, 2, &xzp);
    if (rc || (rc = qlconv_params(c, st)))
        return rc;
    if (st->dw_w && dw_exact(st)) {
        qlconv_dw_eval(c, st, xzp);
        return TQ_OK;
    }
    const int16_t *w = st->q.wpack;
    if (!w) {
        int16_t *wb = tq_qconv_wbuf(&st->q, c->scratch);
        if ((rc = tq_qconv_pack_weights(c, &st->q, 3, 5, wb)))
            return rc;
        w = wb;
    }
    st->y = c->out[0]->data;
    st->d = tq_qdsp_get();
    tq_qconv_run(&st->q, st->d, w, c->in[0]->data, xzp, st->bias, NULL, c->scratch,
                 qlconv_epilogue, st);
    return TQ_OK;
}

const tq_op_def tq_op_conv_integer = { "", "ConvInteger", convint_prepare, convint_eval,
                                       qconv_state_release };
const tq_op_def tq_op_qlinear_conv = { "", "QLinearConv", qlconv_prepare, qlconv_eval,
                                       qconv_state_release };
