/* MatMulInteger (int32 out) and QLinearMatMul (8-bit out): numpy matmul
 * shapes with broadcast batch dims, zero points per tensor, per row of A or
 * per column of B. Operands are widened to int16 with zero points
 * subtracted (B once at prepare when constant), then the exact int16-pair
 * GEMM runs per batch (see kernels/qgemm.h). */
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/qcommon.h"

typedef struct qmm_state {
    int64_t M, K, N, nbatch;
    int k2;
    size_t ldb;
    int brank;                         /* batch rank of the output */
    int64_t bdims[TQ_MAX_RANK];
    int64_t a_bstride[TQ_MAX_RANK], b_bstride[TQ_MAX_RANK]; /* in matrices, 0 = broadcast */
    bool a_signed, b_signed;
    int16_t *bpack;                    /* constant B (one matrix), else NULL */
    /* input indices of a, a_zp, b, b_zp */
    int ia, iaz, ib, ibz;
    bool qlinear;
    bool y_signed;
} qmm_state;

static void qmm_release(void *p)
{
    qmm_state *st = p;
    if (st)
        free(st->bpack);
    free(st);
}

static size_t apack_elems(const qmm_state *st)
{
    return (size_t)st->M * (size_t)st->k2;
}
static size_t bpack_elems(const qmm_state *st)
{
    return (size_t)st->k2 * st->ldb;
}

static int pack_b(tq_op_ctx *c, const qmm_state *st, const void *b, int16_t *dst)
{
    const tq_value *bz = st->ibz < c->n_in ? c->in[st->ibz] : NULL;
    int64_t bzn = tq_qparam_len(bz);
    if (bz && bzn != 1 && bzn != st->N)
        return tq_op_fail(c, TQ_EFORMAT, "zero point '%s' must be a scalar or have %lld values",
                          bz->name, (long long)st->N);
    /* rows of B are K, columns N; a per-column zp varies along a row */
    tq_qpack_rows((int)st->K, (int)st->N, b, (ptrdiff_t)st->N, 1, st->b_signed,
                  bz ? bz->data : NULL, 0, bz && bzn != 1 ? 1 : 0, dst, st->ldb);
    if (st->k2 > st->K)
        memset(dst + (size_t)st->K * st->ldb, 0, sizeof(int16_t) * st->ldb);
    return TQ_OK;
}

static int qmm_prepare_common(tq_op_ctx *c, qmm_state *st, tq_dtype out_dtype)
{
    const tq_value *a = c->in[st->ia], *b = c->in[st->ib];
    const tq_value *az = st->iaz < c->n_in ? c->in[st->iaz] : NULL;
    const tq_value *bz = st->ibz < c->n_in ? c->in[st->ibz] : NULL;
    if (!tq_is_q8(a->dtype) || !tq_is_q8(b->dtype))
        return tq_op_fail(c, TQ_EFORMAT, "inputs '%s' (%s) and '%s' (%s) must be int8 or uint8",
                          a->name, tq_dtype_name(a->dtype), b->name, tq_dtype_name(b->dtype));
    if ((az && az->dtype != a->dtype) || (bz && bz->dtype != b->dtype))
        return tq_op_fail(c, TQ_EFORMAT, "zero points must have their input's type");
    if (a->rank < 1 || b->rank < 1)
        return tq_op_fail(c, TQ_EFORMAT, "inputs must have rank >= 1");
    int64_t ad[TQ_MAX_RANK + 1], bd[TQ_MAX_RANK + 1];
    int ar = a->rank, br = b->rank;
    memcpy(ad, a->dims, sizeof(int64_t) * (size_t)ar);
    memcpy(bd, b->dims, sizeof(int64_t) * (size_t)br);
    if (ar == 1) { /* [K] -> [1, K] */
        ad[1] = ad[0];
        ad[0] = 1;
        ar = 2;
    }
    if (br == 1) { /* [K] -> [K, 1] */
        bd[1] = 1;
        br = 2;
    }
    st->M = ad[ar - 2];
    st->K = ad[ar - 1];
    st->N = bd[br - 1];
    if (bd[br - 2] != st->K)
        return tq_op_fail(c, TQ_EFORMAT, "inner dimensions differ: '%s' has K=%lld, '%s' %lld",
                          a->name, (long long)st->K, b->name, (long long)bd[br - 2]);
    if (st->K > (1 << 24) || st->M > INT32_MAX || st->N > INT32_MAX / 2)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "matrix sizes are too large");
    int abr = ar - 2, bbr = br - 2;
    st->brank = abr > bbr ? abr : bbr;
    if (st->brank + 2 > TQ_MAX_RANK)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "rank too large");
    st->nbatch = 1;
    int64_t as = 1, bs = 1;
    for (int i = st->brank - 1; i >= 0; i--) {
        int ia = i - (st->brank - abr), ib = i - (st->brank - bbr);
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return tq_op_fail(c, TQ_EFORMAT, "batch dimensions of '%s' and '%s' do not broadcast",
                              a->name, b->name);
        st->bdims[i] = da > db ? da : db;
        st->a_bstride[i] = da == 1 ? 0 : as;
        st->b_bstride[i] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
        st->nbatch *= st->bdims[i];
    }
    int64_t azn = tq_qparam_len(az);
    if (az && azn != 1 && azn != st->M)
        return tq_op_fail(c, TQ_EFORMAT, "zero point '%s' must be a scalar or have %lld values",
                          az->name, (long long)st->M);
    st->a_signed = a->dtype == TQ_INT8;
    st->b_signed = b->dtype == TQ_INT8;
    st->k2 = tq_qgemm_k2((int)st->K);
    st->ldb = tq_qgemm_ldb((int)st->N);
    size_t scratch = apack_elems(st) * sizeof(int16_t);
    bool b_single = bs == st->K * st->N;
    if (b->is_const && (!bz || bz->is_const) && b_single) {
        st->bpack = malloc(bpack_elems(st) * sizeof(int16_t));
        if (!st->bpack)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        int rc = pack_b(c, st, b->data, st->bpack);
        if (rc)
            return rc;
    } else {
        scratch += bpack_elems(st) * sizeof(int16_t);
    }
    if (st->qlinear)
        scratch += (size_t)st->M * (size_t)st->N * sizeof(int32_t);
    c->scratch_bytes = scratch;
    int64_t od[TQ_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < st->brank; i++)
        od[orank++] = st->bdims[i];
    if (a->rank > 1)
        od[orank++] = st->M;
    if (b->rank > 1)
        od[orank++] = st->N;
    tq_value_set_shape(c->out[0], out_dtype, orank, od);
    return TQ_OK;
}

/* Offsets (in matrices) of A and B for flat batch index bi. */
static void batch_offsets(const qmm_state *st, int64_t bi, int64_t *ao, int64_t *bo)
{
    *ao = *bo = 0;
    for (int i = st->brank - 1; i >= 0; i--) {
        int64_t idx = bi % st->bdims[i];
        bi /= st->bdims[i];
        *ao += idx * st->a_bstride[i];
        *bo += idx * st->b_bstride[i];
    }
}

/* Calls done(user, batch, C) after each batch's int32 product C (M x N). */
typedef int (*qmm_done_fn)(tq_op_ctx *c, const qmm_state *st, int64_t bi, int32_t *acc);

static int qmm_run(tq_op_ctx *c, const qmm_state *st, int32_t *out_i32, qmm_done_fn done)
{
    const tq_value *a = c->in[st->ia], *b = c->in[st->ib];
    const tq_value *az = st->iaz < c->n_in ? c->in[st->iaz] : NULL;
    int16_t *apack = c->scratch;
    int16_t *bbuf = apack + apack_elems(st);
    int32_t *cbuf = (int32_t *)(void *)(bbuf + (st->bpack ? 0 : bpack_elems(st)));
    const tq_qdsp *d = tq_qdsp_get();
    int64_t azn = tq_qparam_len(az);
    for (int64_t bi = 0; bi < st->nbatch; bi++) {
        int64_t ao, bo;
        batch_offsets(st, bi, &ao, &bo);
        const int16_t *bp = st->bpack;
        if (!bp) {
            int rc = pack_b(c, st, (const char *)b->data + bo * st->K * st->N, bbuf);
            if (rc)
                return rc;
            bp = bbuf;
        }
        tq_qpack_rows((int)st->M, (int)st->K, (const char *)a->data + ao * st->M * st->K,
                      (ptrdiff_t)st->K, 1, st->a_signed, az ? az->data : NULL,
                      az && azn != 1 ? 1 : 0, 0, apack, (size_t)st->k2);
        int32_t *acc = out_i32 ? out_i32 + bi * st->M * st->N : cbuf;
        d->qgemm((int)st->M, (int)st->N, st->k2, apack, (size_t)st->k2, bp, st->ldb, NULL, acc,
                 (size_t)st->N);
        if (done) {
            int rc = done(c, st, bi, acc);
            if (rc)
                return rc;
        }
    }
    return TQ_OK;
}

/* ---- MatMulInteger: A, B, a_zero_point, b_zero_point */

static int mmi_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 2, 4);
    if (rc)
        return rc;
    qmm_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->ia = 0;
    st->ib = 1;
    st->iaz = 2;
    st->ibz = 3;
    return qmm_prepare_common(c, st, TQ_INT32);
}

static int mmi_eval(tq_op_ctx *c)
{
    return qmm_run(c, c->state, c->out[0]->data, NULL);
}

/* ---- QLinearMatMul: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp */

static int qlmm_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 8, 8);
    if (rc)
        return rc;
    const tq_value *yz = c->in[7];
    if (!tq_is_q8(yz->dtype))
        return tq_op_fail(c, TQ_EFORMAT, "output zero point '%s' must be int8 or uint8",
                          yz->name);
    qmm_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->ia = 0;
    st->iaz = 2;
    st->ib = 3;
    st->ibz = 5;
    st->qlinear = true;
    st->y_signed = yz->dtype == TQ_INT8;
    return qmm_prepare_common(c, st, yz->dtype);
}

static int qlmm_done(tq_op_ctx *c, const qmm_state *st, int64_t bi, int32_t *acc)
{
    int64_t as_n = tq_qparam_len(c->in[1]), bs_n = tq_qparam_len(c->in[4]);
    if ((as_n != 1 && as_n != st->M) || (bs_n != 1 && bs_n != st->N))
        return tq_op_fail(c, TQ_EFORMAT,
                          "scales must be scalars, per row of A or per column of B");
    float ys;
    int32_t yz;
    int rc = tq_qparam_scale(c, 6, 1, &ys);
    if (!rc)
        rc = tq_qparam_zp(c, 7, 1, &yz);
    if (rc)
        return rc;
    const float *as = c->in[1]->data, *bs = c->in[4]->data;
    uint8_t *y = (uint8_t *)c->out[0]->data + bi * st->M * st->N;
    for (int64_t m = 0; m < st->M; m++)
        for (int64_t n = 0; n < st->N; n++) {
            float mult = as[as_n == 1 ? 0 : m] * bs[bs_n == 1 ? 0 : n] / ys;
            tq_requant_c(acc + m * st->N + n, 1, mult, yz, st->y_signed, y + m * st->N + n);
        }
    return TQ_OK;
}

static int qlmm_eval(tq_op_ctx *c)
{
    return qmm_run(c, c->state, NULL, qlmm_done);
}

const tq_op_def tq_op_matmul_integer = { "", "MatMulInteger", mmi_prepare, mmi_eval,
                                         qmm_release };
const tq_op_def tq_op_qlinear_matmul = { "", "QLinearMatMul", qlmm_prepare, qlmm_eval,
                                         qmm_release };
