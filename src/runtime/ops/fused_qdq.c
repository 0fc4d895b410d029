/* tinyq.QEltwise: the float islands of a static QDQ graph, run on the 8-bit
 * values directly (graph/fuse_qdq.c writes it):
 *
 *   y = Q( act( BN_a(DQ(a)) [+ BN_b(DQ(b))] ) )      (or float y without Q)
 *
 * Inputs (empty name = absent): 0 a, 1 a_scale, 2 a_zp, 3-6 a's BN (scale,
 * B, mean, var), 7 b, 8 b_scale, 9 b_zp, 10-13 b's BN, 14 y_scale, 15 y_zp.
 * Attributes: a_eps, b_eps, act (1 Relu, 2 Clip(act_min, act_max)).
 *
 * Every float step is the unfused op's: DQ = (float)(q - zp) * scale, BN
 * folded per channel as norm.c does (s = gamma / sqrtf(var + eps), t = B -
 * mean * s, y = x * s + t), the Add, Relu/Clip, then QuantizeLinear's
 * rint(v / y_scale) + zp saturated. An 8-bit input has only 256 values per
 * channel, so each branch is a 256-entry table per channel built at prepare;
 * with one input and a quantised output the whole group is one byte table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/qcommon.h"

enum { IN_A = 0, IN_B = 7, IN_YS = 14, IN_YZ = 15, N_IN = 16 };

typedef struct qelt_state {
    int64_t channels, inner; /* element i is in channel (i / inner) % channels */
    int64_t channels_b, inner_b; /* the same for b */
    /* b's shape differs from a's: numpy broadcasting, element by element */
    bool bcast;
    int rank;
    int64_t dims[TQ_MAX_RANK], sa[TQ_MAX_RANK], sb[TQ_MAX_RANK];
    bool two, quant_out, a_signed, b_signed, y_signed;
    float *ta, *tb;          /* [channels][256] float per branch (index: byte value) */
    tq_qbranch *ba, *bb;     /* per channel: the same values computed in place */
    uint8_t *tq;             /* [channels][256] output bytes (one input, quantised) */
    float y_scale;
    int y_zp;
    tq_qact act;
} qelt_state;

static void qelt_release(void *p)
{
    qelt_state *st = p;
    if (!st)
        return;
    free(st->ta);
    free(st->tb);
    free(st->ba);
    free(st->bb);
    free(st->tq);
    free(st);
}

static const tq_value *input(tq_op_ctx *c, int i)
{
    return i < c->n_in ? c->in[i] : NULL;
}

static float apply_act(const tq_qact *a, float p)
{
    if (a->kind == TQ_QACT_RELU)
        return p > 0.0f ? p : 0.0f;
    if (a->kind == TQ_QACT_CLIP) {
        p = p < a->lo ? a->lo : p;
        p = p > a->hi ? a->hi : p;
    }
    return p;
}

static uint8_t quantize_one(const qelt_state *st, float v)
{
    uint8_t b;
    tq_quantize_f32_c(&v, 1, st->y_scale, st->y_zp, st->y_signed, &b);
    return b;
}

/* The float value of every byte of branch `base` per channel. */
static int branch_table(tq_op_ctx *c, int64_t C, int base, const char *eps_attr,
                        bool *is_signed, float **out, tq_qbranch **brs)
{
    const tq_value *q = input(c, base), *s = input(c, base + 1), *z = input(c, base + 2);
    if (!q || !tq_is_q8(q->dtype) || !s || !s->is_const || (z && !z->is_const))
        return tq_op_fail(c, TQ_EFORMAT, "input %d must be int8/uint8 with constant scale", base);
    if (z && z->dtype != q->dtype)
        return tq_op_fail(c, TQ_EFORMAT, "zero point '%s' must have the type of '%s'", z->name,
                          q->name);
    float scale;
    int32_t zp;
    int rc = tq_qparam_scale(c, base + 1, 1, &scale);
    if (!rc)
        rc = tq_qparam_zp(c, base + 2, 1, &zp);
    if (rc)
        return rc;
    *is_signed = q->dtype == TQ_INT8;
    const tq_value *bn[4];
    bool has_bn = input(c, base + 3) != NULL;
    for (int k = 0; k < 4; k++) {
        bn[k] = input(c, base + 3 + k);
        if (has_bn && (!bn[k] || !bn[k]->is_const || bn[k]->dtype != TQ_FLOAT ||
                       tq_value_numel(bn[k]) != C))
            return tq_op_fail(c, TQ_EFORMAT,
                              "batch-norm parameter %d must be a constant float vector of %lld",
                              base + 3 + k, (long long)C);
    }
    float eps = tq_node_attr_float(c->node, eps_attr, 1e-5f);
    float *t = malloc(sizeof(float) * 256 * (size_t)C);
    tq_qbranch *br = malloc(sizeof(tq_qbranch) * (size_t)C);
    *out = t;
    *brs = br;
    if (!t || !br)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    for (int64_t ch = 0; ch < C; ch++) {
        float bs = 1.0f, bt = 0.0f;
        if (has_bn) {
            const float *g = bn[0]->data, *b = bn[1]->data, *m = bn[2]->data, *v = bn[3]->data;
            bs = g[ch] / sqrtf(v[ch] + eps);
            bt = b[ch] - m[ch] * bs;
        }
        br[ch] = (tq_qbranch){ .zp = zp, .is_signed = *is_signed, .has_affine = has_bn,
                               .scale = scale, .mul = bs, .add = bt };
        for (int byte = 0; byte < 256; byte++)
            t[ch * 256 + byte] = tq_qbranch_value(&br[ch], (uint8_t)byte);
    }
    return TQ_OK;
}

static int qelt_prepare(tq_op_ctx *c)
{
    if (c->n_in < 3 || c->n_in > N_IN || c->n_out < 1 || !c->in[IN_A])
        return tq_op_fail(c, TQ_EFORMAT, "expects up to %d inputs starting with an 8-bit tensor",
                          N_IN);
    const tq_value *a = c->in[IN_A], *b = input(c, IN_B);
    qelt_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->channels = a->rank >= 2 ? a->dims[1] : 1;
    st->inner = 1;
    for (int d = 2; d < a->rank; d++)
        st->inner *= a->dims[d];
    if (st->channels < 1)
        st->channels = 1;
    st->channels_b = st->channels;
    st->inner_b = st->inner;
    st->rank = a->rank;
    memcpy(st->dims, a->dims, sizeof(int64_t) * (size_t)a->rank);
    if (b) {
        st->two = true;
        st->channels_b = b->rank >= 2 && b->dims[1] > 0 ? b->dims[1] : 1;
        st->inner_b = 1;
        for (int d = 2; d < b->rank; d++)
            st->inner_b *= b->dims[d];
        if (b->rank != a->rank || memcmp(b->dims, a->dims, sizeof(int64_t) * (size_t)a->rank)) {
            /* numpy broadcasting (the unfused Add's): right-aligned dims */
            st->bcast = true;
            st->rank = a->rank > b->rank ? a->rank : b->rank;
            int64_t stra = 1, strb = 1;
            for (int d = st->rank - 1; d >= 0; d--) {
                int da = d - (st->rank - a->rank), db = d - (st->rank - b->rank);
                int64_t na = da >= 0 ? a->dims[da] : 1, nb = db >= 0 ? b->dims[db] : 1;
                if (na != nb && na != 1 && nb != 1)
                    return tq_op_fail(c, TQ_EFORMAT, "'%s' and '%s' do not broadcast", a->name,
                                      b->name);
                st->dims[d] = na == 1 ? nb : na;
                st->sa[d] = na == 1 ? 0 : stra;
                st->sb[d] = nb == 1 ? 0 : strb;
                stra *= na;
                strb *= nb;
            }
        }
    }
    st->act.kind = (int)tq_node_attr_int(c->node, "act", TQ_QACT_NONE);
    st->act.lo = tq_node_attr_float(c->node, "act_min", 0.0f);
    st->act.hi = tq_node_attr_float(c->node, "act_max", 0.0f);
    int rc = branch_table(c, st->channels, IN_A, "a_eps", &st->a_signed, &st->ta, &st->ba);
    if (!rc && st->two)
        rc = branch_table(c, st->channels_b, IN_B, "b_eps", &st->b_signed, &st->tb, &st->bb);
    if (rc)
        return rc;
    const tq_value *ys = input(c, IN_YS), *yz = input(c, IN_YZ);
    tq_dtype out = TQ_FLOAT;
    if (ys) {
        int32_t z = 0;
        if (!ys->is_const || (yz && (!yz->is_const || !tq_is_q8(yz->dtype))))
            return tq_op_fail(c, TQ_EFORMAT, "output scale/zero point must be constant 8-bit");
        if ((rc = tq_qparam_scale(c, IN_YS, 1, &st->y_scale)) || (rc = tq_qparam_zp(c, IN_YZ, 1, &z)))
            return rc;
        st->quant_out = true;
        st->y_zp = z;
        st->y_signed = yz && yz->dtype == TQ_INT8;
        out = st->y_signed ? TQ_INT8 : TQ_UINT8;
    }
    if (st->quant_out && !st->two) {
        st->tq = malloc(256 * (size_t)st->channels);
        if (!st->tq)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        for (int64_t i = 0; i < 256 * st->channels; i++)
            st->tq[i] = quantize_one(st, apply_act(&st->act, st->ta[i]));
    }
    tq_value_set_shape(c->out[0], out, st->rank, st->dims);
    return TQ_OK;
}

/* Broadcasting two-input case: element by element (rare: residual Adds have
 * equal shapes), the same float operations as the fast path. */
static void qelt_eval_bcast(const qelt_state *st, const uint8_t *a, const uint8_t *b, void *y)
{
    int64_t idx[TQ_MAX_RANK] = {0}, n = 1, ai = 0, bi = 0;
    for (int d = 0; d < st->rank; d++)
        n *= st->dims[d];
    for (int64_t i = 0; i < n; i++) {
        float p = st->ta[((ai / st->inner) % st->channels) * 256 + a[ai]];
        p = p + st->tb[((bi / st->inner_b) % st->channels_b) * 256 + b[bi]];
        p = apply_act(&st->act, p);
        if (st->quant_out)
            tq_quantize_f32_c(&p, 1, st->y_scale, st->y_zp, st->y_signed, (uint8_t *)y + i);
        else
            ((float *)y)[i] = p;
        for (int d = st->rank - 1; d >= 0; d--) { /* next multi-index */
            ai += st->sa[d];
            bi += st->sb[d];
            if (++idx[d] < st->dims[d])
                break;
            ai -= st->sa[d] * st->dims[d];
            bi -= st->sb[d] * st->dims[d];
            idx[d] = 0;
        }
    }
}

static int qelt_eval(tq_op_ctx *c)
{
    const qelt_state *st = c->state;
    const tq_qdsp *d = tq_qdsp_get();
    tq_lut8_fn lut = tq_lut8_get();
    const uint8_t *a = c->in[IN_A]->data;
    const uint8_t *b = st->two ? c->in[IN_B]->data : NULL;
    if (st->bcast) {
        qelt_eval_bcast(st, a, b, c->out[0]->data);
        return TQ_OK;
    }
    int64_t n = tq_value_numel(c->in[IN_A]);
    /* int8 bytes index the table by their bit pattern (the tables are built
     * for every byte value, signed or not) */
    for (int64_t i0 = 0, ch = 0; i0 < n; i0 += st->inner, ch = (ch + 1) % st->channels) {
        int64_t len = st->inner < n - i0 ? st->inner : n - i0;
        if (st->tq) {
            lut((uint8_t *)c->out[0]->data + i0, a + i0, (size_t)len, st->tq + ch * 256);
            continue;
        }
        if (st->quant_out && d->qelt2q) { /* one pass, no float buffer */
            d->qelt2q((uint8_t *)c->out[0]->data + i0, a + i0, st->ba + ch, b ? b + i0 : NULL,
                      b ? st->bb + ch : NULL, (int)len, &st->act, st->y_scale, st->y_zp,
                      st->y_signed);
            continue;
        }
        float *yf = st->quant_out ? NULL : (float *)c->out[0]->data + i0;
        uint8_t *yq = st->quant_out ? (uint8_t *)c->out[0]->data + i0 : NULL;
        float buf[256];
        for (int64_t j0 = 0; j0 < len; j0 += 256) {
            int m = (int)(len - j0 < 256 ? len - j0 : 256);
            float *v = yf ? yf + j0 : buf;
            /* three simple loops (lookups, activation, quantise) instead of
             * one with branches: the last two vectorise */
            const uint8_t *aj = a + i0 + j0, *bj = b ? b + i0 + j0 : NULL;
            /* the tables' own formula, vectorised (tq_qbranch_value) */
            d->qadd2(v, aj, st->ba + ch, bj, b ? st->bb + ch : NULL, m);
            if (st->act.kind == TQ_QACT_RELU) {
                for (int j = 0; j < m; j++)
                    v[j] = v[j] > 0.0f ? v[j] : 0.0f;
            } else if (st->act.kind == TQ_QACT_CLIP) {
                float lo = st->act.lo, hi = st->act.hi;
                for (int j = 0; j < m; j++) {
                    float p = v[j] < lo ? lo : v[j];
                    v[j] = p > hi ? hi : p;
                }
            }
            if (yq)
                d->quantize(v, (size_t)m, st->y_scale, st->y_zp, st->y_signed, yq + j0);
        }
    }
    return TQ_OK;
}

const tq_op_def tq_op_fused_qdq_eltwise = { "tinyq", "QEltwise", qelt_prepare, qelt_eval,
                                            qelt_release };

/* ---- tinyq.QGemm: DQ(x) -> Gemm/MatMul(DQ(w) [, DQ(int32 bias)]) -> Q(y)
 * as an integer GEMM (graph/fuse_qdq.c writes it). Inputs: x, x_scale,
 * x_zp, w (constant, [N,K] with transB=1 else [K,N]), w_scale, w_zp (scalar
 * or per output column), y_scale, y_zp, [bias int32 [N], scale x_scale *
 * w_scale]. Leading dims of x are rows (MatMul). The int32 result (exact,
 * bias added) is requantised like QLinearConv and ONNX Runtime:
 * sat(rint((float)acc * (x_scale * w_scale[n] / y_scale)) + y_zp). */

typedef struct qgemm_state {
    int64_t M, K, N;
    int k2;
    size_t ldb;
    int16_t *bpack;  /* k2 x ldb: w - w_zp, column n = output n */
    int32_t *bias;   /* [N] (zeros when absent) */
    float *mult;     /* [N]; QGemmF: x_scale * w_scale[n] */
    float *bias_f;   /* QGemmF: DQ(bias)[n], or NULL */
    bool float_out;  /* QGemmF: the float result, not requantised */
    int x_zp, y_zp;
    bool x_signed, y_signed;
} qgemm_state;

static void qgemm_release(void *p)
{
    qgemm_state *st = p;
    if (!st)
        return;
    free(st->bpack);
    free(st->bias);
    free(st->mult);
    free(st->bias_f);
    free(st);
}

static int qgemm_prepare(tq_op_ctx *c)
{
    /* QGemmF (float output) has no y_scale / y_zp: the bias is input 6 */
    bool fo = strcmp(c->node->op_type, "QGemmF") == 0;
    int nq = fo ? 6 : 8;
    if (c->n_in < nq || c->n_in > nq + 1 || c->n_out < 1)
        return tq_op_fail(c, TQ_EFORMAT, fo ? "expects 6 or 7 inputs (x, x_scale, x_zp, w, "
                                              "w_scale, w_zp, [bias])"
                                            : "expects 8 or 9 inputs (x, x_scale, x_zp, w, "
                                              "w_scale, w_zp, y_scale, y_zp, [bias])");
    for (int i = 0; i < nq; i++)
        if (!c->in[i] || (i > 0 && !c->in[i]->is_const))
            return tq_op_fail(c, TQ_EFORMAT, "input %d must be present%s", i,
                              i > 0 ? " and constant" : "");
    const tq_value *x = c->in[0], *w = c->in[3], *wz = c->in[5], *yz = fo ? NULL : c->in[7];
    const tq_value *b = c->n_in > nq ? c->in[nq] : NULL;
    bool trans = tq_node_attr_int(c->node, "transB", 0) != 0;
    if (!tq_is_q8(x->dtype) || !tq_is_q8(w->dtype) || w->rank != 2 || x->rank < 1 ||
        wz->dtype != w->dtype || c->in[2]->dtype != x->dtype || (yz && !tq_is_q8(yz->dtype)))
        return tq_op_fail(c, TQ_EFORMAT, "'%s' and weight '%s' must be 8-bit with matching zero "
                                         "points, the weight 2-D", x->name, w->name);
    qgemm_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->float_out = fo;
    st->K = trans ? w->dims[1] : w->dims[0];
    st->N = trans ? w->dims[0] : w->dims[1];
    if (x->dims[x->rank - 1] != st->K)
        return tq_op_fail(c, TQ_EFORMAT, "'%s' (last dim %lld) and weight '%s' do not multiply",
                          x->name, (long long)x->dims[x->rank - 1], w->name);
    st->M = st->K ? tq_value_numel(x) / st->K : 0;
    if (st->K > (1 << 20) || st->N > (1 << 20) || st->M > INT32_MAX / 2)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "matrix sizes are too large");
    int n = (int)st->N;
    float xs, ys = 1.0f, *ws = malloc(sizeof(float) * (size_t)n);
    int32_t *wzp = malloc(sizeof(int32_t) * (size_t)n), xz, yzv = 0;
    st->bias = calloc((size_t)n, sizeof(int32_t));
    st->mult = malloc(sizeof(float) * (size_t)n);
    if (!ws || !wzp || !st->bias || !st->mult) {
        free(ws);
        free(wzp);
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    }
    int rc = tq_qparam_scale(c, 1, 1, &xs);
    if (!rc)
        rc = tq_qparam_zp(c, 2, 1, &xz);
    if (!rc)
        rc = tq_qparam_scale(c, 4, n, ws);
    if (!rc)
        rc = tq_qparam_zp(c, 5, n, wzp);
    if (!rc && !fo)
        rc = tq_qparam_scale(c, 6, 1, &ys);
    if (!rc && !fo)
        rc = tq_qparam_zp(c, 7, 1, &yzv);
    if (!rc && b && (b->dtype != TQ_INT32 || !b->is_const || tq_value_numel(b) != st->N))
        rc = tq_op_fail(c, TQ_EFORMAT, "bias '%s' must be a constant int32 vector of %lld",
                        b->name, (long long)st->N);
    if (!rc) {
        for (int k = 0; k < n; k++) /* ONNX Runtime's order; QGemmF: the bias scale exactly */
            st->mult[k] = fo ? xs * ws[k] : xs * ws[k] / ys;
        if (b)
            memcpy(st->bias, b->data, sizeof(int32_t) * (size_t)n);
        if (fo && b && !(st->bias_f = malloc(sizeof(float) * (size_t)n)))
            rc = tq_op_fail(c, TQ_ENOMEM, "out of memory");
        for (int k = 0; fo && b && !rc && k < n; k++) /* DequantizeLinear's (float)b * scale */
            st->bias_f[k] = (float)st->bias[k] * st->mult[k];
        st->k2 = tq_qgemm_k2((int)st->K);
        st->ldb = tq_qgemm_ldb(n);
        st->bpack = calloc((size_t)st->k2 * st->ldb, sizeof(int16_t));
        if (!st->bpack)
            rc = tq_op_fail(c, TQ_ENOMEM, "out of memory");
    }
    if (!rc) {
        /* zero points per column, as the int8 type of the weight */
        int8_t *z8 = malloc((size_t)n);
        if (!z8) {
            rc = tq_op_fail(c, TQ_ENOMEM, "out of memory");
        } else {
            for (int k = 0; k < n; k++)
                z8[k] = (int8_t)wzp[k];
            ptrdiff_t rs = trans ? 1 : (ptrdiff_t)st->N, cs = trans ? (ptrdiff_t)st->K : 1;
            tq_qpack_rows((int)st->K, n, w->data, rs, cs, w->dtype == TQ_INT8, z8, 0, 1,
                          st->bpack, st->ldb);
            free(z8);
        }
    }
    free(ws);
    free(wzp);
    if (rc)
        return rc;
    st->x_zp = xz;
    st->y_zp = yzv;
    st->x_signed = x->dtype == TQ_INT8;
    st->y_signed = yz && yz->dtype == TQ_INT8;
    c->scratch_bytes = sizeof(int16_t) * (size_t)st->M * (size_t)st->k2 +
                       sizeof(int32_t) * (size_t)st->M * (size_t)st->N + 64;
    int64_t od[TQ_MAX_RANK];
    memcpy(od, x->dims, sizeof od);
    od[x->rank - 1] = st->N;
    tq_value_set_shape(c->out[0], fo ? TQ_FLOAT : yz->dtype, x->rank, od);
    return TQ_OK;
}

static int qgemm_eval(tq_op_ctx *c)
{
    const qgemm_state *st = c->state;
    const tq_qdsp *d = tq_qdsp_get();
    int16_t *apack = c->scratch;
    size_t abytes = sizeof(int16_t) * (size_t)st->M * (size_t)st->k2;
    int32_t *acc = (int32_t *)(void *)((char *)c->scratch + (abytes + 63) / 64 * 64);
    /* rows of x - x_zp as int16, K padded to k2 with zeros (even K: the
     * rows are back to back, one call for all) */
    const uint8_t *x = c->in[0]->data;
    if (st->k2 == st->K) {
        d->widen_s16(apack, x, (int)(st->M * st->K), 1, st->x_zp, st->x_signed);
    } else {
        for (int64_t m = 0; m < st->M; m++) {
            d->widen_s16(apack + m * st->k2, x + m * st->K, (int)st->K, 1, st->x_zp,
                         st->x_signed);
            apack[m * st->k2 + st->K] = 0;
        }
    }
    if (st->float_out) {
        /* the sums land in the float output and are scaled in place */
        acc = c->out[0]->data;
        d->qgemm((int)st->M, (int)st->N, st->k2, apack, (size_t)st->k2, st->bpack, st->ldb, NULL,
                 acc, (size_t)st->N);
        d->epilogue_cols(acc, (int)st->M, (int)st->N, (size_t)st->N, st->mult, st->bias_f,
                         NULL, NULL, NULL);
        return TQ_OK;
    }
    d->qgemm((int)st->M, (int)st->N, st->k2, apack, (size_t)st->k2, st->bpack, st->ldb, NULL, acc,
             (size_t)st->N);
    /* per-column multipliers (kernels/qgemm.h requant_cols) */
    d->requant_cols(acc, (int)st->M, (int)st->N, st->bias, st->mult, st->y_zp, st->y_signed,
                    c->out[0]->data);
    return TQ_OK;
}

const tq_op_def tq_op_fused_qdq_gemm = { "tinyq", "QGemm", qgemm_prepare, qgemm_eval,
                                         qgemm_release };
/* QGemm with the float result (--float-outputs): inputs x, x_scale, x_zp,
 * w, w_scale, w_zp, [bias]; y = acc * x_scale * w_scale[n] + DQ(bias)[n],
 * which differs from the unfused float Gemm by float rounding only. */
const tq_op_def tq_op_fused_qdq_gemm_float = { "tinyq", "QGemmF", qgemm_prepare, qgemm_eval,
                                               qgemm_release };
