/* The integer convolution engine (qconv.h): shape checks, weight packing
 * and the choice of kernel at prepare; the column, depthwise and implicit
 * GEMM runs. */
#include "runtime/ops/qconv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "runtime/ops/qcommon.h"
#include "runtime/ops/qconv_image.h"
#include "runtime/ops/spatial.h"

/* Target bytes of one int16 column block: stays within L2 with the weights. */
#define COL_BLOCK_BYTES (96 * 1024)

static void qconv_release_c4(tq_qconv *q)
{
    free(q->c4_w);
    free(q->c4_wsum);
    free(q->c4_koff);
    tq_c4u_pairs_free(&q->c4u_pairs);
    q->c4_w = NULL;
    q->c4_wsum = NULL;
    q->c4_koff = NULL;
}

void tq_qconv_release(tq_qconv *q)
{
    free(q->wpack);
    q->wpack = NULL;
    free(q->ip_koff);
    q->ip_koff = NULL;
    qconv_release_c4(q);
}

int tq_qconv_dw3x3(tq_op_ctx *c, const tq_qconv *q, tq_conv2d_geom *g, float **taps)
{
    *taps = NULL;
    *g = (tq_conv2d_geom){ .c = 1, .ih = q->ih, .iw = q->iw, .oh = q->oh, .ow = q->ow,
                           .kh = q->kh, .kw = q->kw, .sh = q->sh, .sw = q->sw, .dh = q->dh,
                           .dw = q->dw, .pt = q->pt, .pl = q->pl };
    if (q->cin_g != 1 || (q->cout_g != 1 && q->group != 1) || !q->wpack || !tq_dw3x3_shape(g))
        return TQ_OK;
    float *w = malloc(sizeof(float) * 9 * (size_t)q->cout);
    if (!w)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    for (int64_t o = 0; o < q->cout; o++)
        for (int t = 0; t < 9; t++)
            w[o * 9 + t] = (float)q->wpack[o * q->k2 + t];
    *taps = w;
    return TQ_OK;
}

static size_t wpack_bytes(const tq_qconv *q)
{
    return (size_t)q->cout * (size_t)q->k2 * sizeof(int16_t);
}

int tq_qconv_pack_weights(tq_op_ctx *c, tq_qconv *q, int wi, int w_zp_i, int16_t *wbuf)
{
    const tq_value *w = c->in[wi];
    int32_t *zp = malloc(sizeof(int32_t) * (size_t)q->cout);
    if (!zp)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    int rc = tq_qparam_zp(c, w_zp_i, (int)q->cout, zp);
    if (rc) {
        free(zp);
        return rc;
    }
    for (int64_t o = 0; o < q->cout; o++) {
        int16_t *d = wbuf + o * q->k2;
        for (int k = 0; k < q->k; k++) {
            int v = q->w_signed ? ((const int8_t *)w->data)[o * q->k + k]
                                : ((const uint8_t *)w->data)[o * q->k + k];
            d[k] = (int16_t)(v - zp[o]);
        }
        for (int k = q->k; k < q->k2; k++)
            d[k] = 0;
    }
    free(zp);
    return TQ_OK;
}

/* Cost of one 4-row block over 16 pixels, in ns on an AVX2-only Zen 3
 * (fitted to kernel timings over shapes K = 16..144 and weight spreads; the
 * fit picked the faster kernel in all 28 cases measured): the pairing
 * schedule pays a fixed block overhead, then per step; plain vpmaddubsw and
 * the sign trick pay per quad. Small K favours the latter, large K with
 * pairable weights the schedule. */
static double pairs_cost(const tq_c4u_pairs *p)
{
    double ns = 0.0;
    for (int b = 0; b < p->blocks; b++) {
        int nc = p->ncorr[4 * b] + p->ncorr[4 * b + 1] + p->ncorr[4 * b + 2] + p->ncorr[4 * b + 3];
        ns += 12.65 + 6.18 * p->npairs[b] + 2.58 * p->nsingles[b] + 1.93 * nc;
    }
    return ns;
}

static double per_quad_cost(int blocks, int kq)
{
    return blocks * (2.28 + 4.69 * kq);
}

/* The u8 x s8 kernel on plain AVX2 (no VNNI), all exact: plain vpmaddubsw
 * (qgemm_c4u) when no weight pair can saturate it (always so for
 * reduce-range weights); the sign trick for weights in [-127, 127] (every
 * symmetric quantiser's); the pairing schedule, which splits the quads over
 * the bound and pairs the others (3 multiplies per two quads instead of 4),
 * where the cost model above says it is faster or where a -128 rules the
 * sign trick out; else (no c4 layout) the int16 vpmaddwd path.
 * TQ_C4U_PAIRS=1 / 0 forces the schedule on / off for A/B runs. */
static int choose_avx2_kernel(tq_op_ctx *c, tq_qconv *q, bool has_m128)
{
    q->c4u_fits = tq_qgemm_c4u_fits(q->c4_w, (size_t)q->cout * (size_t)q->kq);
    const char *force = getenv("TQ_C4U_PAIRS");
    bool can_pair = tq_qdsp_get()->qgemm_c4u_pairs != NULL && q->cout % 4 == 0 &&
                    !(force && strcmp(force, "0") == 0);
    if (can_pair && tq_c4u_pairs_build(&q->c4u_pairs, (int)q->cout, q->kq, q->c4_w))
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    bool direct = q->c4u_fits || !has_m128; /* plain vpmaddubsw or the sign trick */
    bool use_pairs = can_pair && (!direct || (force && strcmp(force, "1") == 0) ||
                                  pairs_cost(&q->c4u_pairs) <
                                      per_quad_cost((int)(q->cout / 4), q->kq));
    if (!use_pairs)
        tq_c4u_pairs_free(&q->c4u_pairs);
    q->c4_u8s8 = use_pairs || q->c4u_fits;
    if (!q->c4_u8s8 && has_m128) {
        qconv_release_c4(q);
        return TQ_OK;
    }
    q->c4_signed = !q->c4_u8s8;
    return TQ_OK;
}

/* Choose and set up the channel-quad path (see qconv.h). */
static int c4_prepare(tq_op_ctx *c, tq_qconv *q, const tq_value *w, const tq_value *wzp)
{
    unsigned cpu = tq_cpu_flags();
    q->c4_signed = false;
    q->c4_u8s8 = false;
    if (!(cpu & (TQ_CPU_FLAG_AVX512VNNI | TQ_CPU_FLAG_AVX2)) || !w->is_const || !q->w_signed ||
        (wzp && !wzp->is_const))
        return TQ_OK;
    if (wzp)
        for (int64_t i = 0; i < tq_value_numel(wzp); i++)
            if (((const int8_t *)wzp->data)[i] != 0)
                return TQ_OK;
    q->c4_taps = q->cin == 1 && q->sw == 1 && q->dw == 1 && q->kw > 1;
    int tquads = (q->kw + 3) / 4; /* c4_taps: quads per kernel row */
    q->c4_quads = (q->cin + 3) / 4;
    q->kq = q->c4_taps ? q->kh * tquads : (int)(q->c4_quads * q->kh * q->kw);
    q->c4_w = calloc((size_t)q->cout * 4 * (size_t)q->kq, 1);
    q->c4_wsum = calloc((size_t)q->cout, sizeof(int32_t));
    q->c4_koff = malloc(sizeof(int64_t) * (size_t)q->kq);
    if (!q->c4_w || !q->c4_wsum || !q->c4_koff)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    const int8_t *wd = w->data;
    int taps = q->kh * q->kw;
    bool has_m128 = false;
    for (int64_t o = 0; o < q->cout; o++)
        for (int64_t ci = 0; ci < q->cin; ci++)
            for (int t = 0; t < taps; t++) {
                int8_t v = wd[(o * q->cin + ci) * taps + t];
                int ky = t / q->kw, kx = t % q->kw;
                if (q->c4_taps) /* quad (ky, kx / 4), byte kx % 4 */
                    q->c4_w[o * 4 * q->kq + 4 * (ky * tquads + kx / 4) + kx % 4] = v;
                else
                    q->c4_w[o * 4 * q->kq + 4 * ((ci / 4) * taps + t) + ci % 4] = v;
                q->c4_wsum[o] += v;
                has_m128 |= v == -128;
            }
    if (!(cpu & TQ_CPU_FLAG_AVX512VNNI)) {
        int rc = choose_avx2_kernel(c, q, has_m128);
        if (rc || !q->c4_w) /* an error, or the int16 path (c4 released) */
            return rc;
    }
    for (int ky = 0; q->c4_taps && ky < q->kh; ky++)
        for (int g = 0; g < tquads; g++) /* quad g starts at tap 4g: pixel + 4g */
            q->c4_koff[ky * tquads + g] = 4 * ((int64_t)ky * q->dh * q->ip_row_len + 4 * g);
    /* small planes only: there the pad columns (or a strided row's
     * half-empty vectors) are a real share of the GEMM and the copies stay
     * in cache; a 224-wide row wastes under 1 % */
    q->c4_shift = !q->c4_taps && q->sh <= 2 && q->sw <= 2 && q->ip_row_len != q->ow &&
                  q->ow <= 32;
    q->c4_rows_par = (q->ip_rows + q->sh - 1) / q->sh;
    for (int64_t cq = 0; !q->c4_taps && cq < q->c4_quads; cq++)
        for (int ky = 0; ky < q->kh; ky++)
            for (int kx = 0; kx < q->kw; kx++) {
                int64_t tcol = (int64_t)kx * q->dw, trow = (int64_t)ky * q->dh;
                int64_t pix = cq * q->ip_plane + trow * q->ip_row_len +
                              (tcol % q->sw) * q->ip_ph_len + tcol / q->sw;
                if (q->c4_shift) /* copy (kx, row parity), quad cq, row trow / sh */
                    pix = tq_qconv_shift_pixel(q, kx, trow % q->sh, cq, trow / q->sh);
                q->c4_koff[(cq * q->kh + ky) * q->kw + kx] = 4 * pix;
            }
    /* image (4 bytes per pixel + 16 pixels of slack), row pointers, start
     * values, two padded rows of scratch (`lines`) */
    size_t img = ((size_t)(q->c4_quads * q->ip_plane) + 16) * 4;
    if (q->c4_shift)
        img = ((size_t)(q->kw * q->sh * q->c4_quads * q->c4_rows_par * q->ow) + 16) * 4;
    q->ip_img_bytes = (img + 63) / 64 * 64;
    q->cols_bytes = q->ip_img_bytes + sizeof(uint8_t *) * (size_t)q->kq +
                    sizeof(int32_t) * (size_t)q->cout + 8 * (size_t)q->ip_row_len;
    q->c4 = true;
    return TQ_OK;
}

/* Columns and rows of the zero-padded input the taps reach: the last
 * output's receptive field, or the input and its leading pad if larger. */
static void padded_extent(const tq_qconv *q, int64_t *wneed, int64_t *hneed)
{
    *wneed = (q->ow - 1) * q->sw + (int64_t)(q->kw - 1) * q->dw + 1;
    *hneed = (q->oh - 1) * q->sh + (int64_t)(q->kh - 1) * q->dh + 1;
    if (*wneed < q->iw + q->pl)
        *wneed = q->iw + q->pl;
    if (*hneed < q->ih + q->pt)
        *hneed = q->ih + q->pt;
}

int tq_qconv_prepare(tq_op_ctx *c, tq_qconv *q, int xi, int wi, int w_zp_i, size_t *scratch,
                     int64_t *out_dims)
{
    const tq_value *x = c->in[xi], *w = c->in[wi];
    const tq_value *wzp = w_zp_i >= 0 && w_zp_i < c->n_in ? c->in[w_zp_i] : NULL;
    if (!tq_is_q8(x->dtype) || !tq_is_q8(w->dtype))
        return tq_op_fail(c, TQ_EFORMAT, "input '%s' (%s) and weight '%s' (%s) must be int8 or uint8",
                          x->name, tq_dtype_name(x->dtype), w->name, tq_dtype_name(w->dtype));
    if (wzp && wzp->dtype != w->dtype)
        return tq_op_fail(c, TQ_EFORMAT, "weight zero point '%s' must have the weight's type %s",
                          wzp->name, tq_dtype_name(w->dtype));
    if (x->rank != 4 || w->rank != 4)
        return tq_op_fail(c, TQ_EUNSUPPORTED,
                          "only 2-D convolutions are supported ('%s' has rank %d, '%s' rank %d)",
                          x->name, x->rank, w->name, w->rank);
    tq_spatial sp;
    int rc = tq_spatial_read(c, 2, w->dims + 2, &sp);
    if (rc)
        return rc;
    int64_t group = tq_node_attr_int(c->node, "group", 1);
    int64_t cin = x->dims[1], cout = w->dims[0];
    if (group < 1 || cin % group != 0 || cout % group != 0 || w->dims[1] * group != cin)
        return tq_op_fail(c, TQ_EFORMAT,
                          "group %lld does not match input '%s' (%lld channels) and weight '%s' "
                          "(%lld x %lld)",
                          (long long)group, x->name, (long long)cin, w->name, (long long)cout,
                          (long long)w->dims[1]);
    int64_t osp[TQ_SPATIAL_MAX];
    if ((rc = tq_spatial_forward(c, &sp, x->dims + 2, false, osp)))
        return rc;
    int64_t k = w->dims[1] * sp.kernel[0] * sp.kernel[1];
    if (k > 1 << 20 || cout > 1 << 20)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "weight '%s' is too large", w->name);
    q->batch = x->dims[0];
    q->group = group;
    q->cin = cin;
    q->cout = cout;
    q->cin_g = cin / group;
    q->cout_g = cout / group;
    q->ih = x->dims[2];
    q->iw = x->dims[3];
    q->oh = osp[0];
    q->ow = osp[1];
    q->kh = (int)sp.kernel[0];
    q->kw = (int)sp.kernel[1];
    q->sh = (int)sp.stride[0];
    q->sw = (int)sp.stride[1];
    q->dh = (int)sp.dilation[0];
    q->dw = (int)sp.dilation[1];
    q->pt = (int)sp.pad_begin[0];
    q->pl = (int)sp.pad_begin[1];
    /* A 1x1 strided convolution without padding reads only every sh-th
     * row and sw-th column: run it as a stride-1 convolution of that
     * subsampled input (gathered first, tq_qconv_run), so its output rows
     * are one contiguous GEMM (7-pixel rows of a stride-2 shortcut ran one
     * half-empty GEMM per row, over a phase-split image of the whole input). */
    q->sub_sh = q->sub_sw = 1;
    if (group == 1 && q->kh == 1 && q->kw == 1 && (q->sh > 1 || q->sw > 1) &&
        sp.pad_begin[0] == 0 && sp.pad_begin[1] == 0 && (q->oh - 1) * q->sh < q->ih &&
        (q->ow - 1) * q->sw < q->iw) {
        q->sub_sh = q->sh, q->sub_sw = q->sw, q->sub_ih = q->ih, q->sub_iw = q->iw;
        q->sh = q->sw = 1;
        q->ih = q->oh;
        q->iw = q->ow;
    }
    q->k = (int)k;
    q->k2 = tq_qgemm_k2(q->k);
    q->pixels = q->oh * q->ow;
    q->x_signed = x->dtype == TQ_INT8;
    q->w_signed = w->dtype == TQ_INT8;
    int64_t rows = (int64_t)(COL_BLOCK_BYTES / ((size_t)q->k2 * 2)) / (q->ow > 0 ? q->ow : 1);
    if (rows < 1)
        rows = 1;
    if (rows > q->oh)
        rows = q->oh;
    q->rows_per_block = (int)rows;
    q->ldb = tq_qgemm_ldb((int)(rows * q->ow));
    q->cols_bytes = (size_t)q->k2 * q->ldb * sizeof(int16_t);
    q->dw_fast = q->cin_g == 1 && q->cout_g == 1 && q->kh * q->kw <= TQ_QDW_MAX_TAPS;
    int64_t wneed, hneed;
    padded_extent(q, &wneed, &hneed);
    if (q->dw_fast) {
        q->dw_ph_len = (wneed + q->sw - 1) / q->sw;
        q->dw_rows = hneed;
        size_t plane = (size_t)hneed * (size_t)q->sw * (size_t)q->dw_ph_len * sizeof(float);
        if (plane > q->cols_bytes)
            q->cols_bytes = plane;
    }
    q->implicit = !q->dw_fast && q->group == 1;
    if (q->implicit) {
        q->ip_ph_len = (wneed + q->sw - 1) / q->sw;
        q->ip_row_len = q->ip_ph_len * q->sw;
        q->ip_rows = hneed;
        q->ip_plane = hneed * q->ip_row_len;
        /* slack: qgemm_ind reads up to 15 columns past a row's N */
        q->ip_img_bytes = ((size_t)(q->cin * q->ip_plane) + 32) * sizeof(int16_t);
        q->ip_img_bytes = (q->ip_img_bytes + 63) / 64 * 64;
        q->cols_bytes = q->ip_img_bytes + sizeof(int16_t *) * (size_t)q->k2;
        q->ip_koff = malloc(sizeof(int64_t) * (size_t)q->k2);
        if (!q->ip_koff)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        for (int64_t ci = 0; ci < q->cin; ci++)
            for (int ky = 0; ky < q->kh; ky++)
                for (int kx = 0; kx < q->kw; kx++) {
                    int64_t tcol = (int64_t)kx * q->dw;
                    q->ip_koff[(ci * q->kh + ky) * q->kw + kx] =
                        ci * q->ip_plane + (int64_t)ky * q->dh * q->ip_row_len +
                        (tcol % q->sw) * q->ip_ph_len + tcol / q->sw;
                }
        if (q->k2 > q->k) /* the even-K row meets zero weights: any readable row */
            q->ip_koff[q->k] = 0;
        if ((rc = c4_prepare(c, q, w, wzp)))
            return rc;
        /* Output rows per GEMM block. Stride 1 on the padded image: one GEMM
         * over the padded width (pad columns computed and dropped). The
         * compact copies of c4_shift: whole rows back to back. Strided: one
         * GEMM per output row into a block of rows (implicit_run's per_row
         * path), so the epilogue runs once per block, not per output row
         * (narrow rows such as a 1x1 stride-2 shortcut's 7 pixels paid one
         * requant call per channel and row); a row's 16-pixel GEMM block may
         * read past its phase: at most 16 pixels past the image end, inside
         * its slack. */
        bool multi = !q->c4_shift && q->sh == 1 && q->sw == 1;
        bool whole_rows = multi || q->c4_shift || q->ip_row_len != q->ow;
        int64_t br = whole_rows ? 512 / (multi ? q->ip_row_len : q->ow) : 1;
        br = br < 1 ? 1 : (br > q->oh ? q->oh : br);
        q->ip_block_rows = (int)br;
        q->ldb = tq_qgemm_ldb((int)(multi ? (br - 1) * q->ip_row_len + q->ow : br * q->ow));
    }
    size_t need = q->cols_bytes;
    /* 8-bit outputs need an int32 block too. */
    need += (size_t)q->cout_g * q->ldb * sizeof(int32_t);
    bool w_const = w->is_const && (!wzp || wzp->is_const);
    q->w_packed_at_prepare = w_const;
    if (w_const) {
        q->wpack = malloc(wpack_bytes(q));
        if (!q->wpack)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        if ((rc = tq_qconv_pack_weights(c, q, wi, w_zp_i, q->wpack)))
            return rc;
    } else {
        need += wpack_bytes(q);
    }
    if (q->sub_sh > 1 || q->sub_sw > 1) /* the subsampled input, at sub_offset() */
        need += (size_t)(q->batch * q->cin * q->oh * q->ow);
    *scratch = need;
    out_dims[0] = q->batch;
    out_dims[1] = cout;
    out_dims[2] = q->oh;
    out_dims[3] = q->ow;
    return TQ_OK;
}

/* Columns of output rows [oh0, oh0+nrows) for one image and group: row k =
 * (channel, ky, kx), column = output pixel; x - x_zp, 0 outside the image. */
static void build_columns(const tq_qconv *q, const tq_qdsp *d, const void *xg, int x_zp,
                          int64_t oh0, int nrows, int16_t *cols)
{
    int64_t plane = q->ih * q->iw;
    int64_t ncols = (int64_t)nrows * q->ow;
    for (int64_t ci = 0; ci < q->cin_g; ci++)
        for (int ky = 0; ky < q->kh; ky++)
            for (int kx = 0; kx < q->kw; kx++) {
                int64_t krow = (ci * q->kh + ky) * q->kw + kx;
                int16_t *dst = cols + krow * (int64_t)q->ldb;
                /* output columns whose input column is inside the image */
                int64_t off = (int64_t)kx * q->dw - q->pl;
                int64_t ow_lo = off >= 0 ? 0 : (-off + q->sw - 1) / q->sw;
                int64_t ow_hi = q->iw - off <= 0 ? 0 : (q->iw - off + q->sw - 1) / q->sw;
                if (ow_hi > q->ow)
                    ow_hi = q->ow;
                if (ow_lo > ow_hi)
                    ow_lo = ow_hi;
                for (int r = 0; r < nrows; r++) {
                    int16_t *dr = dst + (int64_t)r * q->ow;
                    int64_t iy = (oh0 + r) * q->sh - q->pt + (int64_t)ky * q->dh;
                    if (iy < 0 || iy >= q->ih) {
                        memset(dr, 0, sizeof(int16_t) * (size_t)q->ow);
                        continue;
                    }
                    for (int64_t o = 0; o < ow_lo; o++)
                        dr[o] = 0;
                    const uint8_t *s = (const uint8_t *)xg + ci * plane + iy * q->iw + off;
                    if (ow_hi > ow_lo)
                        d->widen_s16(dr + ow_lo, s + ow_lo * q->sw, (int)(ow_hi - ow_lo), q->sw,
                                     x_zp, q->x_signed);
                    for (int64_t o = ow_hi; o < q->ow; o++)
                        dr[o] = 0;
                }
                for (int64_t j = ncols; j < (int64_t)q->ldb; j++)
                    dst[j] = 0;
            }
    /* the even-K padding row */
    if (q->k2 > q->k)
        memset(cols + (int64_t)q->k * (int64_t)q->ldb, 0, sizeof(int16_t) * q->ldb);
}

/* acc[o] += w * (s[o * step] - zp) for o in [lo, hi); restrict lets the
 * compiler vectorise (a uint8 pointer could otherwise alias acc). */
static void dw_row_u8(int32_t *restrict acc, const uint8_t *restrict s, int64_t step,
                      int32_t w, int32_t zp, int64_t lo, int64_t hi)
{
    if (step == 1)
        for (int64_t o = lo; o < hi; o++)
            acc[o] += w * ((int32_t)s[o] - zp);
    else
        for (int64_t o = lo; o < hi; o++)
            acc[o] += w * ((int32_t)s[o * step] - zp);
}

static void dw_row_s8(int32_t *restrict acc, const int8_t *restrict s, int64_t step, int32_t w,
                      int32_t zp, int64_t lo, int64_t hi)
{
    for (int64_t o = lo; o < hi; o++)
        acc[o] += w * ((int32_t)s[o * step] - zp);
}

/* Depthwise (one input and one output channel per group): direct int32
 * accumulation, no column matrix (it would be kh*kw times the input). */
static void depthwise_block(const tq_qconv *q, const void *xg, int x_zp, const int16_t *w,
                            int32_t init, int64_t oh0, int nrows, int32_t *acc)
{
    int64_t lo[64], hi[64];
    int nk = q->kw < 64 ? q->kw : 64;
    for (int kx = 0; kx < nk; kx++) {
        int64_t off = (int64_t)kx * q->dw - q->pl;
        lo[kx] = off >= 0 ? 0 : (-off + q->sw - 1) / q->sw;
        hi[kx] = q->iw - off <= 0 ? 0 : (q->iw - off + q->sw - 1) / q->sw;
        if (hi[kx] > q->ow)
            hi[kx] = q->ow;
    }
    for (int64_t j = 0; j < (int64_t)nrows * q->ow; j++)
        acc[j] = init;
    for (int r = 0; r < nrows; r++) {
        int32_t *ar = acc + (int64_t)r * q->ow;
        for (int ky = 0; ky < q->kh; ky++) {
            int64_t iy = (oh0 + r) * q->sh - q->pt + (int64_t)ky * q->dh;
            if (iy < 0 || iy >= q->ih)
                continue;
            for (int kx = 0; kx < q->kw; kx++) {
                int64_t off = (int64_t)kx * q->dw - q->pl;
                int64_t l = kx < 64 ? lo[kx] : 0, h = kx < 64 ? hi[kx] : 0;
                if (kx >= 64) { /* wider than any real kernel: compute directly */
                    l = off >= 0 ? 0 : (-off + q->sw - 1) / q->sw;
                    h = q->iw - off <= 0 ? 0 : (q->iw - off + q->sw - 1) / q->sw;
                    h = h > q->ow ? q->ow : h;
                }
                int64_t base = iy * q->iw + off;
                if (q->x_signed)
                    dw_row_s8(ar, (const int8_t *)xg + base, q->sw, w[ky * q->kw + kx], x_zp, l,
                              h);
                else
                    dw_row_u8(ar, (const uint8_t *)xg + base, q->sw, w[ky * q->kw + kx], x_zp,
                              l, h);
            }
        }
    }
}

/* Channel xg (one plane) -> padded float plane, phase-split (see qconv.h). */
static void dw_build_plane(const tq_qconv *q, const tq_qdsp *d, const void *xg, int x_zp,
                           float *plane)
{
    int64_t row_len = q->sw * q->dw_ph_len;
    for (int64_t pr = 0; pr < q->dw_rows; pr++) {
        float *dst = plane + pr * row_len;
        int64_t iy = pr - q->pt;
        if (iy < 0 || iy >= q->ih) {
            memset(dst, 0, sizeof(float) * (size_t)row_len);
            continue;
        }
        const uint8_t *row = (const uint8_t *)xg + iy * q->iw;
        for (int p = 0; p < q->sw; p++) {
            float *ph = dst + p * q->dw_ph_len;
            int64_t lo, hi;
            tq_qconv_phase_span(q, p, q->dw_ph_len, &lo, &hi);
            for (int64_t i = 0; i < lo; i++)
                ph[i] = 0.0f;
            if (hi > lo)
                d->widen_f32(ph + lo, row + lo * q->sw + p - q->pl, (int)(hi - lo), q->sw, x_zp,
                             q->x_signed);
            for (int64_t i = hi; i < q->dw_ph_len; i++)
                ph[i] = 0.0f;
        }
    }
}

static void dw_run(const tq_qconv *q, const tq_qdsp *d, const int16_t *wpack, const void *x,
                   int x_zp, const int32_t *row_init, int32_t *out_i32, void *scratch,
                   tq_qconv_epilogue epi, void *user)
{
    float *plane = scratch;
    int32_t *blk = (int32_t *)(void *)((char *)scratch + q->cols_bytes);
    int64_t plane_in = q->ih * q->iw, row_len = q->sw * q->dw_ph_len;
    int taps = q->kh * q->kw;
    float wf[TQ_QDW_MAX_TAPS];
    const float *src[TQ_QDW_MAX_TAPS];
    int64_t tap_off[TQ_QDW_MAX_TAPS]; /* tap start relative to its output row's first padded row */
    for (int ky = 0; ky < q->kh; ky++)
        for (int kx = 0; kx < q->kw; kx++) {
            int64_t tcol = (int64_t)kx * q->dw;
            tap_off[ky * q->kw + kx] = (int64_t)ky * q->dh * row_len +
                                       (tcol % q->sw) * q->dw_ph_len + tcol / q->sw;
        }
    for (int64_t n = 0; n < q->batch; n++)
        for (int64_t g = 0; g < q->group; g++) {
            dw_build_plane(q, d, (const char *)x + (n * q->cin + g) * plane_in, x_zp, plane);
            for (int t = 0; t < taps; t++)
                wf[t] = (float)wpack[g * q->k2 + t];
            int32_t init = row_init ? row_init[g] : 0;
            for (int64_t oh0 = 0; oh0 < q->oh; oh0 += q->rows_per_block) {
                int nrows = (int)(q->oh - oh0 < q->rows_per_block ? q->oh - oh0 : q->rows_per_block);
                int64_t p0 = oh0 * q->ow;
                int32_t *acc = out_i32 ? out_i32 + (n * q->cout + g) * q->pixels + p0 : blk;
                for (int r = 0; r < nrows; r++) {
                    int64_t pr0 = (oh0 + r) * q->sh;
                    for (int t = 0; t < taps; t++)
                        src[t] = plane + pr0 * row_len + tap_off[t];
                    d->dw_taps(acc + (int64_t)r * q->ow, (int)q->ow, src, wf, taps, init);
                }
                if (epi)
                    epi(user, n, g, 1, p0, (int64_t)nrows * q->ow, acc,
                        out_i32 ? (size_t)q->pixels : q->ldb);
            }
        }
}

/* One implicit GEMM: ncols output columns starting at output row `orow`
 * (column j is padded-image pixel orow * sh * row_len + j), all output
 * channels, into dst (channel stride ldc). */
static void ip_gemm(const tq_qconv *q, const tq_qdsp *d, const void *img, const int16_t *wpack,
                    const int32_t *row_init, const int32_t *init4, const int16_t **brows,
                    const uint8_t **brows4, int64_t orow, int64_t ncols, int32_t *dst,
                    size_t ldc)
{
    int64_t first = q->c4_shift ? orow * q->ow : orow * q->sh * q->ip_row_len;
    if (q->c4) {
        const uint8_t *base = (const uint8_t *)img + 4 * first;
        for (int k = 0; k < q->kq; k++)
            brows4[k] = base + q->c4_koff[k];
        if (q->c4_signed)
            d->qgemm_c4s((int)q->cout, (int)ncols, q->kq, q->c4_w, (const int8_t *const *)brows4,
                         init4, dst, ldc);
        else if (q->c4_u8s8 && q->c4u_pairs.order && d->qgemm_c4u_pairs)
            d->qgemm_c4u_pairs(&q->c4u_pairs, q->c4_w, (int)ncols, brows4, init4, dst, ldc);
        else if (q->c4_u8s8 && q->c4u_fits)
            d->qgemm_c4u((int)q->cout, (int)ncols, q->kq, q->c4_w, brows4, init4, dst, ldc);
        else
            d->qgemm_c4((int)q->cout, (int)ncols, q->kq, q->c4_w, brows4, init4, dst, ldc);
    } else {
        const int16_t *base = (const int16_t *)img + first;
        for (int k = 0; k < q->k2; k++)
            brows[k] = base + q->ip_koff[k];
        d->qgemm_ind((int)q->cout, (int)ncols, q->k2, wpack, (size_t)q->k2, brows, row_init, dst,
                     ldc);
    }
}

static void implicit_run(const tq_qconv *q, const tq_qdsp *d, const int16_t *wpack,
                         const void *x, int x_zp, const int32_t *row_init, int32_t *out_i32,
                         void *scratch, tq_qconv_epilogue epi, void *user)
{
    int16_t *img = scratch;
    const int16_t **brows = (const int16_t **)(void *)((char *)scratch + q->ip_img_bytes);
    const uint8_t **brows4 = (const uint8_t **)(void *)((char *)scratch + q->ip_img_bytes);
    int32_t *init4 = (int32_t *)(void *)((char *)scratch + q->ip_img_bytes +
                                         sizeof(uint8_t *) * (size_t)q->kq);
    int32_t *blk = (int32_t *)(void *)((char *)scratch + q->cols_bytes);
    int64_t plane_in = q->ih * q->iw;
    int zpr = q->x_signed ? x_zp + 128 : x_zp;
    /* the zero point in the image's domain (s8 image: u8 value - 128) */
    int zpi = q->c4_signed ? zpr - 128 : zpr;
    if (q->c4)
        for (int64_t o = 0; o < q->cout; o++)
            init4[o] = (row_init ? row_init[o] : 0) - zpi * q->c4_wsum[o];
    for (int64_t n = 0; n < q->batch; n++) {
        if (q->c4)
            tq_qconv_build_c4_image(q, d, (const uint8_t *)x + n * q->cin * plane_in, zpr, (uint8_t *)img,
                           (uint8_t *)init4 + sizeof(int32_t) * (size_t)q->cout);
        else
            tq_qconv_build_image(q, d, (const uint8_t *)x + n * q->cin * plane_in, x_zp, img);
        for (int64_t oh0 = 0; oh0 < q->oh; oh0 += q->ip_block_rows) {
            int nrows = (int)(q->oh - oh0 < q->ip_block_rows ? q->oh - oh0 : q->ip_block_rows);
            /* no pad columns (1x1 without horizontal padding, or the
             * compact copies of c4_shift): the block is a contiguous run
             * of output pixels, written in place */
            bool contiguous = q->ip_row_len == q->ow || q->c4_shift;
            int64_t ncols = contiguous ? (int64_t)nrows * q->ow
                                       : (int64_t)(nrows - 1) * q->ip_row_len + q->ow;
            bool direct = out_i32 && contiguous;
            /* wide rows whose 16-pixel blocks fit in the padded width: one
             * GEMM per output row straight to its place (no pad columns
             * computed, no gap closing or copy afterwards) */
            bool per_row = !contiguous && (q->sh != 1 || q->sw != 1 ||
                                           (q->ow + 15) / 16 * 16 <= q->ip_row_len);
            int32_t *dst = direct ? out_i32 + n * q->cout * q->pixels + oh0 * q->ow : blk;
            size_t ldc = direct ? (size_t)q->pixels : q->ldb;
            if (per_row) {
                for (int r = 0; r < nrows; r++) {
                    int32_t *rdst = out_i32 ? out_i32 + n * q->cout * q->pixels + (oh0 + r) * q->ow
                                            : blk + (int64_t)r * q->ow;
                    ip_gemm(q, d, img, wpack, row_init, init4, brows, brows4, oh0 + r, q->ow, rdst,
                            out_i32 ? (size_t)q->pixels : q->ldb);
                }
            } else {
                ip_gemm(q, d, img, wpack, row_init, init4, brows, brows4, oh0, ncols, dst, ldc);
            }
            /* output row r is columns [r * row_len, r * row_len + ow) */
            if (contiguous || per_row) {
                /* already in place */
                if (!out_i32 && epi)
                    epi(user, n, 0, q->cout, oh0 * q->ow, (int64_t)nrows * q->ow, blk, q->ldb);
            } else if (out_i32) {
                for (int r = 0; r < nrows; r++) {
                    const int32_t *src = blk + (int64_t)r * q->ip_row_len;
                    int64_t p0 = (oh0 + r) * q->ow;
                    for (int64_t o = 0; o < q->cout; o++)
                        memcpy(out_i32 + (n * q->cout + o) * q->pixels + p0,
                               src + o * (int64_t)q->ldb, sizeof(int32_t) * (size_t)q->ow);
                }
            } else if (epi) {
                /* close the pad-column gaps in place (rows move left only),
                 * so the epilogue sees one contiguous run per channel */
                if (q->ip_row_len != q->ow)
                    for (int64_t o = 0; o < q->cout; o++)
                        for (int r = 1; r < nrows; r++)
                            memmove(blk + o * (int64_t)q->ldb + (int64_t)r * q->ow,
                                    blk + o * (int64_t)q->ldb + (int64_t)r * q->ip_row_len,
                                    sizeof(int32_t) * (size_t)q->ow);
                epi(user, n, 0, q->cout, oh0 * q->ow, (int64_t)nrows * q->ow, blk, q->ldb);
            }
            if (out_i32 && epi)
                epi(user, n, 0, q->cout, oh0 * q->ow, (int64_t)nrows * q->ow,
                    out_i32 + n * q->cout * q->pixels + oh0 * q->ow, (size_t)q->pixels);
        }
    }
}

/* Where the subsampled input goes in the scratch: after the columns, the
 * int32 block and any eval-time weights (tq_qconv_prepare's sizes). */
static size_t sub_offset(const tq_qconv *q)
{
    return q->cols_bytes + (size_t)q->cout_g * q->ldb * sizeof(int32_t) +
           (q->w_packed_at_prepare ? 0 : wpack_bytes(q));
}

void tq_qconv_run(const tq_qconv *q, const tq_qdsp *d, const int16_t *wpack, const void *x,
                  int x_zp, const int32_t *row_init, int32_t *out_i32, void *scratch,
                  tq_qconv_epilogue epi, void *user)
{
    if (q->sub_sh > 1 || q->sub_sw > 1) {
        uint8_t *xs = (uint8_t *)scratch + sub_offset(q);
        tq_qconv_gather_subsampled(q, d, x, xs);
        x = xs;
    }
    if (q->implicit) {
        implicit_run(q, d, wpack, x, x_zp, row_init, out_i32, scratch, epi, user);
        return;
    }
    if (q->dw_fast) {
        dw_run(q, d, wpack, x, x_zp, row_init, out_i32, scratch, epi, user);
        return;
    }
    int16_t *cols = scratch;
    int32_t *blk = (int32_t *)(void *)((char *)scratch + q->cols_bytes);
    int64_t plane = q->ih * q->iw;
    for (int64_t n = 0; n < q->batch; n++)
        for (int64_t oh0 = 0; oh0 < q->oh; oh0 += q->rows_per_block) {
            int nrows = (int)(q->oh - oh0 < q->rows_per_block ? q->oh - oh0 : q->rows_per_block);
            int64_t p0 = oh0 * q->ow, np = (int64_t)nrows * q->ow;
            for (int64_t g = 0; g < q->group; g++) {
                const char *xg = (const char *)x + (n * q->cin + g * q->cin_g) * plane;
                int32_t *acc = out_i32 ? out_i32 + (n * q->cout + g * q->cout_g) * q->pixels + p0
                                       : blk;
                size_t ld = out_i32 ? (size_t)q->pixels : q->ldb;
                if (q->cin_g == 1 && q->cout_g == 1) {
                    depthwise_block(q, xg, x_zp, wpack + g * q->k2, row_init ? row_init[g] : 0,
                                    oh0, nrows, acc);
                    if (!out_i32 && epi)
                        epi(user, n, g, 1, p0, np, acc, ld);
                    continue;
                }
                build_columns(q, d, xg, x_zp, oh0, nrows, cols);
                d->qgemm((int)q->cout_g, (int)np, q->k2, wpack + g * q->cout_g * q->k2,
                         (size_t)q->k2, cols, q->ldb, row_init ? row_init + g * q->cout_g : NULL,
                         acc, ld);
                if (!out_i32 && epi)
                    epi(user, n, g * q->cout_g, q->cout_g, p0, np, acc, ld);
            }
            if (out_i32 && epi)
                epi(user, n, 0, q->cout, p0, np, out_i32 + n * q->cout * q->pixels + p0,
                    (size_t)q->pixels);
        }
}
