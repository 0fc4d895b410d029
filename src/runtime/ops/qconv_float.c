/* tinyq.QConvF: DQ(x) -> Conv(DQ(w) [, DQ(int32 bias)]) whose float output
 * is read as it is (what `tinyq quantize --float-outputs` writes; graph/
 * fuse_qdq.c matches it). Inputs: x (8-bit), x_scale, x_zp, w (8-bit,
 * constant), w_scale (scalar or per output channel), w_zp, [bias int32, its
 * scale x_scale * w_scale as the fuser checked]. The integer engine
 * (qconv.c) sums exactly; the epilogue scales by x_scale * w_scale[o] and
 * adds the dequantised bias. The unfused graph sums the dequantised values
 * in float instead, so the two differ by float rounding only (the test in
 * tests/int8 bounds it). */
#include <stdlib.h>

#include "runtime/ops/qcommon.h"
#include "runtime/ops/qconv.h"

typedef struct qconvf_state {
    tq_qconv q;
    float *sprod;     /* x_scale * w_scale[o] */
    float *bias;      /* DQ(bias)[o], or NULL */
    const tq_qdsp *d; /* eval-time kernel table */
} qconvf_state;

static void qconvf_release(void *p)
{
    qconvf_state *st = p;
    if (!st)
        return;
    tq_qconv_release(&st->q);
    free(st->sprod);
    free(st->bias);
    free(st);
}

static int qconvf_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 6, 7);
    if (rc)
        return rc;
    const tq_value *x = c->in[0], *xz = c->in[2];
    if (!tq_is_q8(x->dtype) || (xz && xz->dtype != x->dtype))
        return tq_op_fail(c, TQ_EFORMAT, "input '%s' and its zero point must be int8 or uint8",
                          x->name);
    for (int i = 1; i < c->n_in; i++)
        if (c->in[i] && !c->in[i]->is_const)
            return tq_op_fail(c, TQ_EFORMAT, "input %d ('%s') must be constant", i,
                              c->in[i]->name);
    qconvf_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    int64_t od[4];
    if ((rc = tq_qconv_prepare(c, &st->q, 0, 3, 5, &c->scratch_bytes, od)))
        return rc;
    int64_t cout = st->q.cout;
    float xs;
    float *ws = malloc(sizeof(float) * (size_t)cout);
    st->sprod = malloc(sizeof(float) * (size_t)cout);
    if (!ws || !st->sprod) {
        free(ws);
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    }
    rc = tq_qparam_scale(c, 1, 1, &xs);
    if (!rc)
        rc = tq_qparam_scale(c, 4, (int)cout, ws);
    for (int64_t o = 0; !rc && o < cout; o++)
        st->sprod[o] = xs * ws[o]; /* the bias scale, bit for bit (the fuser checked) */
    free(ws);
    if (rc)
        return rc;
    const tq_value *b = c->n_in > 6 ? c->in[6] : NULL;
    if (b) {
        if (b->dtype != TQ_INT32 || tq_value_numel(b) != cout)
            return tq_op_fail(c, TQ_EFORMAT, "bias '%s' must be int32 with %lld values",
                              b->name, (long long)cout);
        if (!(st->bias = malloc(sizeof(float) * (size_t)cout)))
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        for (int64_t o = 0; o < cout; o++) /* DequantizeLinear's (float)(b - 0) * scale */
            st->bias[o] = (float)((const int32_t *)b->data)[o] * st->sprod[o];
    }
    if (!st->q.wpack)
        return tq_op_fail(c, TQ_EFORMAT, "weight '%s' must be constant", c->in[3]->name);
    tq_value_set_shape(c->out[0], TQ_FLOAT, 4, od);
    return TQ_OK;
}

static void qconvf_epilogue(void *user, int64_t n, int64_t c0, int64_t nc, int64_t p0,
                            int64_t np, int32_t *acc, size_t ld)
{
    (void)n;
    (void)p0;
    qconvf_state *st = user;
    st->d->epilogue_rows(acc, (int)nc, (int)np, ld, st->sprod + c0,
                         st->bias ? st->bias + c0 : NULL, NULL, 0, NULL);
}

static int qconvf_eval(tq_op_ctx *c)
{
    qconvf_state *st = c->state;
    int32_t xzp = 0;
    if (c->in[2]) {
        int rc = tq_qparam_zp(c, 2, 1, &xzp);
        if (rc)
            return rc;
    }
    st->d = tq_qdsp_get();
    /* the int32 sums land in the output buffer and become floats in place */
    tq_qconv_run(&st->q, st->d, st->q.wpack, c->in[0]->data, xzp, NULL, c->out[0]->data,
                 c->scratch, qconvf_epilogue, st);
    return TQ_OK;
}

const tq_op_def tq_op_fused_qdq_conv_float = { "tinyq", "QConvF", qconvf_prepare, qconvf_eval,
                                               qconvf_release };
