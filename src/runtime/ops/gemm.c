/* Op family 'gemm': Gemm and MatMul on fp32 through the sgemm kernels.
 * Constant B operands (weights) are packed once in prepare; eval is one
 * tq_sgemm call per matrix with the bias fused into its epilogue. */
#include <stdlib.h>
#include <string.h>

#include "kernels/sgemm.h"
#include "runtime/op.h"

static int require_float(tq_op_ctx *c, int i)
{
    const tq_value *v = c->in[i];
    if (v && v->dtype != TQ_FLOAT)
        return tq_op_fail(c, v->dtype == TQ_FLOAT16 ? TQ_EUNSUPPORTED : TQ_EFORMAT,
                          "input '%s' is %s; only float32 is supported", v->name,
                          tq_dtype_name(v->dtype));
    return TQ_OK;
}

/* ---------------------------------------------------------------- Gemm */

typedef enum c_mode { C_NONE, C_COL, C_ROW, C_FULL } c_mode;

typedef struct gemm_state {
    const tq_sgemm_dsp *dsp;
    int64_t m, n, k;
    bool trans_a, trans_b;
    float alpha, beta;
    c_mode cmode;
    float *packed_b;     /* owned; NULL when B is packed at eval into scratch */
    size_t scratch_b;    /* float offsets into scratch */
    size_t scratch_a;
    size_t scratch_bias;
} gemm_state;

static void gemm_release(void *p)
{
    gemm_state *st = p;
    if (st)
        free(st->packed_b);
    free(st);
}

static int gemm_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 2, 3);
    if (rc)
        return rc;
    for (int i = 0; i < c->n_in; i++)
        if ((rc = require_float(c, i)))
            return rc;
    const tq_value *a = c->in[0], *b = c->in[1], *cv = c->n_in > 2 ? c->in[2] : NULL;
    if (a->rank != 2 || b->rank != 2)
        return tq_op_fail(c, TQ_EFORMAT, "A '%s' and B '%s' must be 2-D (ranks %d and %d)",
                          a->name, b->name, a->rank, b->rank);
    gemm_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->dsp = tq_sgemm_dsp_get();
    st->trans_a = tq_node_attr_int(c->node, "transA", 0) != 0;
    st->trans_b = tq_node_attr_int(c->node, "transB", 0) != 0;
    st->alpha = tq_node_attr_float(c->node, "alpha", 1.0f);
    st->beta = tq_node_attr_float(c->node, "beta", 1.0f);
    st->m = st->trans_a ? a->dims[1] : a->dims[0];
    st->k = st->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = st->trans_b ? b->dims[1] : b->dims[0];
    st->n = st->trans_b ? b->dims[0] : b->dims[1];
    if (kb != st->k)
        return tq_op_fail(c, TQ_EFORMAT,
                          "inner dimensions differ: A '%s' gives K=%lld, B '%s' gives K=%lld",
                          a->name, (long long)st->k, b->name, (long long)kb);
    st->cmode = C_NONE;
    if (cv && st->beta != 0.0f) {
        if (cv->rank > 2)
            return tq_op_fail(c, TQ_EFORMAT, "C '%s' has rank %d, at most 2 allowed", cv->name,
                              cv->rank);
        int64_t cm = cv->rank == 2 ? cv->dims[0] : 1;
        int64_t cn = cv->rank >= 1 ? cv->dims[cv->rank - 1] : 1;
        if ((cm != 1 && cm != st->m) || (cn != 1 && cn != st->n))
            return tq_op_fail(c, TQ_EFORMAT,
                              "C '%s' (%lld x %lld) does not broadcast to the %lld x %lld output",
                              cv->name, (long long)cm, (long long)cn, (long long)st->m,
                              (long long)st->n);
        if (cm == 1 && cn == st->n && st->n > 1)
            st->cmode = C_COL;
        else if (cn == 1 && cm == st->m && st->m > 1)
            st->cmode = C_ROW;
        else
            st->cmode = C_FULL;
    }
    size_t scratch = 0;
    size_t nb = tq_sgemm_packed_b_floats(st->k, st->n);
    ptrdiff_t sk = st->trans_b ? 1 : (ptrdiff_t)st->n;
    ptrdiff_t sn = st->trans_b ? (ptrdiff_t)st->k : 1;
    if (b->is_const) {
        st->packed_b = malloc((nb ? nb : 1) * sizeof(float));
        if (!st->packed_b)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory packing B '%s'", b->name);
        tq_sgemm_pack_b(b->data, sk, sn, st->k, st->n, st->packed_b);
    } else {
        st->scratch_b = scratch;
        scratch += nb;
    }
    if (st->trans_a) {
        st->scratch_a = scratch;
        scratch += (size_t)(st->m * st->k);
    }
    if ((st->cmode == C_COL || st->cmode == C_ROW) && st->beta != 1.0f) {
        st->scratch_bias = scratch;
        scratch += (size_t)(st->cmode == C_COL ? st->n : st->m);
    }
    c->scratch_bytes = scratch * sizeof(float);
    int64_t od[2] = { st->m, st->n };
    tq_value_set_shape(c->out[0], TQ_FLOAT, 2, od);
    return TQ_OK;
}

static int gemm_eval(tq_op_ctx *c)
{
    const gemm_state *st = c->state;
    const tq_value *a = c->in[0], *b = c->in[1], *cv = c->n_in > 2 ? c->in[2] : NULL;
    float *scratch = c->scratch, *y = c->out[0]->data;
    const float *bp = st->packed_b;
    if (!bp) {
        float *pk = scratch + st->scratch_b;
        tq_sgemm_pack_b(b->data, st->trans_b ? 1 : (ptrdiff_t)st->n,
                        st->trans_b ? (ptrdiff_t)st->k : 1, st->k, st->n, pk);
        bp = pk;
    }
    const float *ap = a->data;
    if (st->trans_a) {
        float *t = scratch + st->scratch_a;
        for (int64_t i = 0; i < st->m; i++)
            for (int64_t kk = 0; kk < st->k; kk++)
                t[i * st->k + kk] = ap[kk * st->m + i];
        ap = t;
    }
    tq_sgemm_post post = { .alpha = st->alpha };
    if (st->cmode == C_COL || st->cmode == C_ROW) {
        const float *cd = cv->data;
        int64_t len = st->cmode == C_COL ? st->n : st->m;
        if (st->beta != 1.0f) {
            float *bias = scratch + st->scratch_bias;
            for (int64_t i = 0; i < len; i++)
                bias[i] = st->beta * cd[i];
            cd = bias;
        }
        post.bias = cd;
        post.bias_per_col = st->cmode == C_COL;
    } else if (st->cmode == C_FULL) {
        const float *cd = cv->data;
        int64_t cm = cv->rank == 2 ? cv->dims[0] : 1;
        int64_t cn = cv->rank >= 1 ? cv->dims[cv->rank - 1] : 1;
        for (int64_t i = 0; i < st->m; i++)
            for (int64_t j = 0; j < st->n; j++)
                y[i * st->n + j] = st->beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
        post.accumulate = true;
    }
    tq_sgemm(st->dsp, st->m, st->n, st->k, ap, (ptrdiff_t)st->k, bp, 0, true, y,
             (ptrdiff_t)st->n, &post);
    return TQ_OK;
}

static const tq_op_def op_gemm = { "", "Gemm", gemm_prepare, gemm_eval, gemm_release };

/* -------------------------------------------------------------- MatMul */

typedef struct matmul_state {
    const tq_sgemm_dsp *dsp;
    int64_t m, n, k;       /* per matrix; m already folded over A's batch when B is 2-D */
    int out_rank;
    int64_t batch;         /* number of output matrices */
    int batch_rank;
    int64_t batch_dims[TQ_MAX_RANK];
    int64_t a_bdims[TQ_MAX_RANK], b_bdims[TQ_MAX_RANK]; /* broadcast-aligned, 1 = repeat */
    float *packed_b;       /* per B matrix, when B is constant */
    int64_t b_mats;
} matmul_state;

static void matmul_release(void *p)
{
    matmul_state *st = p;
    if (st)
        free(st->packed_b);
    free(st);
}

static int matmul_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 2, 2);
    if (rc || (rc = require_float(c, 0)) || (rc = require_float(c, 1)))
        return rc;
    const tq_value *a = c->in[0], *b = c->in[1];
    if (a->rank < 1 || b->rank < 1)
        return tq_op_fail(c, TQ_EFORMAT, "MatMul operands '%s' and '%s' must not be scalars",
                          a->name, b->name);
    matmul_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->dsp = tq_sgemm_dsp_get();
    /* numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; both removed after */
    int64_t m = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    int64_t k = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    int64_t n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (k != kb)
        return tq_op_fail(c, TQ_EFORMAT,
                          "inner dimensions differ: '%s' has K=%lld, '%s' has K=%lld", a->name,
                          (long long)k, b->name, (long long)kb);
    int abr = a->rank > 2 ? a->rank - 2 : 0, bbr = b->rank > 2 ? b->rank - 2 : 0;
    int br = abr > bbr ? abr : bbr;
    st->batch = 1;
    st->b_mats = 1;
    for (int i = 0; i < br; i++) {
        int ia = i - (br - abr), ib = i - (br - bbr);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return tq_op_fail(c, TQ_EFORMAT,
                              "batch dimensions of '%s' and '%s' do not broadcast (%lld vs %lld)",
                              a->name, b->name, (long long)da, (long long)db);
        st->a_bdims[i] = da;
        st->b_bdims[i] = db;
        st->batch_dims[i] = da == 1 ? db : da;
        st->batch *= st->batch_dims[i];
        st->b_mats *= db;
    }
    st->batch_rank = br;
    int64_t od[TQ_MAX_RANK];
    int r = 0;
    for (int i = 0; i < br; i++)
        od[r++] = st->batch_dims[i];
    if (a->rank > 1)
        od[r++] = m;
    if (b->rank > 1)
        od[r++] = n;
    st->out_rank = r;
    st->m = m;
    st->n = n;
    st->k = k;
    /* B shared by every A matrix: fold A's batch into the rows (one GEMM). */
    if (st->b_mats == 1 && br > 0) {
        st->m = m * st->batch;
        st->batch = 1;
        st->batch_rank = 0;
    }
    if (b->is_const) {
        size_t per = tq_sgemm_packed_b_floats(k, n);
        st->packed_b = malloc((per * (size_t)st->b_mats + 1) * sizeof(float));
        if (!st->packed_b)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory packing '%s'", b->name);
        for (int64_t i = 0; i < st->b_mats; i++)
            tq_sgemm_pack_b((const float *)b->data + i * k * n, (ptrdiff_t)n, 1, k, n,
                            st->packed_b + i * per);
    }
    tq_value_set_shape(c->out[0], TQ_FLOAT, r, od);
    return TQ_OK;
}

static int matmul_eval(tq_op_ctx *c)
{
    const matmul_state *st = c->state;
    const float *a = c->in[0]->data, *b = c->in[1]->data;
    float *y = c->out[0]->data;
    size_t per = tq_sgemm_packed_b_floats(st->k, st->n);
    for (int64_t bi = 0; bi < st->batch; bi++) {
        /* batch index -> A / B matrix index under broadcasting */
        int64_t rem = bi, ai = 0, bj = 0, astr = 1, bstr = 1;
        for (int d = st->batch_rank - 1; d >= 0; d--) {
            int64_t idx = rem % st->batch_dims[d];
            rem /= st->batch_dims[d];
            ai += (st->a_bdims[d] == 1 ? 0 : idx) * astr;
            bj += (st->b_bdims[d] == 1 ? 0 : idx) * bstr;
            astr *= st->a_bdims[d];
            bstr *= st->b_bdims[d];
        }
        const float *am = a + ai * st->m * st->k;
        float *ym = y + bi * st->m * st->n;
        if (st->packed_b)
            tq_sgemm(st->dsp, st->m, st->n, st->k, am, (ptrdiff_t)st->k,
                     st->packed_b + (size_t)bj * per, 0, true, ym, (ptrdiff_t)st->n, NULL);
        else
            tq_sgemm(st->dsp, st->m, st->n, st->k, am, (ptrdiff_t)st->k,
                     b + bj * st->k * st->n, (ptrdiff_t)st->n, false, ym, (ptrdiff_t)st->n,
                     NULL);
    }
    return TQ_OK;
}

static const tq_op_def op_matmul = { "", "MatMul", matmul_prepare, matmul_eval,
                                     matmul_release };

const tq_op_def *const tq_ops_gemm[] = { &op_gemm, &op_matmul, NULL };
