/* Op family 'conv': Conv (1-D/2-D, groups, depthwise), com.microsoft
 * FusedConv (Conv [+ Z] + activation, the form graph fusion produces:
 * graph/fuse_fp32.c) and ConvTranspose, on fp32.
 *
 * Conv per image and group is Y[Cout_g][P] = W_g[Cout_g][K] * cols[K][P]
 * with K = Cin_g*kh*kw and P output pixels: W is already row-major, so it is
 * the sgemm A operand as stored (no packing, constant or not). The columns
 * are never materialised: the padded input is split into stride phases and
 * the GEMM reads each tap's row through an offset (tq_sgemm_indirect), which
 * costs one copy of the input instead of a kh*kw times larger im2col.
 * Groups of 1 use strips (tq_conv_strip): the phase planes hold several
 * images side by side, rows spaced as tightly as the taps allow, so each
 * GEMM has many columns (full register tiles) and one junk column per
 * image row at most.
 * 3x3 stride-1 convs with constant weights and at least 8 channels each
 * side use Winograd F(2x2, 3x3) (kernels/winograd.h: 2.25x fewer
 * multiplies, no padded copy, no junk columns; TQ_NO_WINOGRAD=1 turns it
 * off to compare). 1x1/stride-1 convs read the input as B directly, and
 * depthwise 3x3 has its own kernel. Bias, FusedConv's residual input Z (same shape as Y) and
 * Relu/Clip run in the GEMM epilogue; a Z that only broadcasts to Y is added
 * in a second pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/sgemm.h"
#include "kernels/winograd.h"
#include "runtime/op.h"
#include "runtime/ops/spatial.h"

typedef enum conv_path { PATH_INDIRECT, PATH_1X1, PATH_DEPTHWISE, PATH_WINOGRAD } conv_path;

typedef struct conv_state {
    const tq_sgemm_dsp *gemm;
    const tq_conv_dsp *conv;
    conv_path path;
    int64_t batch, group, cin_g, cout_g;
    tq_conv2d_geom geom;     /* per group */
    tq_conv_phase phase;
    /* batch > 1: images per GEMM side by side (tq_conv_strip); images == 0
     * convolves image by image */
    tq_conv_strip strip;
    ptrdiff_t *offs;         /* PATH_INDIRECT: K row offsets into the phase planes; owned */
    /* PATH_WINOGRAD: the plan and the transformed weights (owned) */
    const tq_wino_dsp *wino_dsp;
    tq_wino_plan wino;
    float *wino_u;
    /* PATH_INDIRECT: small phase planes are owned and zeroed once, so each
     * eval copies only the pixels (tq_conv_dsp.phase_fill), not the padding;
     * large ones (NULL here) live in the shared scratch and are packed whole
     * each eval, where the padding is a small part of the copy and a private
     * buffer per conv would only push the others out of cache */
    float *planes;
    size_t scratch_out;      /* float offset of the junk-column output in scratch */
    bool junk;               /* GEMM output has junk columns: to scratch, then copied */
    int64_t k, pixels;
    bool clamp;
    float lo, hi;
    /* FusedConv Z: added before the activation. z_full: Z has Y's shape (read
     * in the epilogue); otherwise z_stride[d] is Z's stride broadcast over Y
     * (0 along broadcast dims) and a second pass adds it. */
    bool has_z, z_full;
    int rank;
    int64_t out_dims[4];
    int64_t z_stride[4];
} conv_state;

static int require_float(tq_op_ctx *c, int i)
{
    const tq_value *v = c->in[i];
    if (v && v->dtype != TQ_FLOAT)
        return tq_op_fail(c, v->dtype == TQ_FLOAT16 ? TQ_EUNSUPPORTED : TQ_EFORMAT,
                          "input '%s' is %s; only float32 is supported", v->name,
                          tq_dtype_name(v->dtype));
    return TQ_OK;
}

/* FusedConv's activation (absent for plain Conv). */
static int read_activation(tq_op_ctx *c, bool *clamp, float *lo, float *hi)
{
    *clamp = false;
    *lo = -INFINITY;
    *hi = INFINITY;
    const char *act = tq_node_attr_string(c->node, "activation", NULL);
    if (!act || !*act)
        return TQ_OK;
    if (strcmp(act, "Relu") == 0) {
        *clamp = true;
        *lo = 0.0f;
        return TQ_OK;
    }
    if (strcmp(act, "Clip") == 0) {
        const tq_attr *p = tq_node_attr(c->node, "activation_params");
        if (!p || p->type != TQ_ATTR_FLOATS || p->n != 2)
            return tq_op_fail(c, TQ_EFORMAT,
                              "activation Clip needs activation_params [min, max]");
        *clamp = true;
        *lo = p->floats[0];
        *hi = p->floats[1];
        return TQ_OK;
    }
    return tq_op_fail(c, TQ_EUNSUPPORTED, "fused activation '%s' is not supported", act);
}

static void conv_release(void *p)
{
    conv_state *st = p;
    if (st) {
        free(st->offs);
        free(st->planes);
        free(st->wino_u);
    }
    free(st);
}

/* Z must broadcast (numpy rules) to Y without changing Y's shape. */
static int prepare_z(tq_op_ctx *c, conv_state *st, const int64_t *od, int rank)
{
    const tq_value *z = c->in[3];
    st->has_z = true;
    st->rank = rank;
    memcpy(st->out_dims, od, sizeof(int64_t) * (size_t)rank);
    if (z->rank > rank)
        return tq_op_fail(c, TQ_EFORMAT, "input Z '%s' has rank %d, more than the output's %d",
                          z->name, z->rank, rank);
    bool full = z->rank == rank;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        int zd = d - (rank - z->rank);
        int64_t n = zd >= 0 ? z->dims[zd] : 1;
        if (n != od[d] && n != 1)
            return tq_op_fail(c, TQ_EFORMAT,
                              "input Z '%s' does not broadcast to the output shape (dim %d is "
                              "%lld, output %lld)",
                              z->name, d, (long long)n, (long long)od[d]);
        if (n != od[d])
            full = false;
        st->z_stride[d] = n == 1 ? 0 : stride;
        stride *= n;
    }
    st->z_full = full;
    return TQ_OK;
}

/* y = act(y + broadcast(z)) for the Z shapes the epilogue does not take. */
static void add_z_pass(const conv_state *st, const float *z, float *y)
{
    int64_t d[4] = { 1, 1, 1, 1 }, s[4] = { 0, 0, 0, 0 };
    for (int i = 0; i < st->rank; i++) {
        d[4 - st->rank + i] = st->out_dims[i];
        s[4 - st->rank + i] = st->z_stride[i];
    }
    for (int64_t a = 0; a < d[0]; a++)
        for (int64_t b = 0; b < d[1]; b++)
            for (int64_t e = 0; e < d[2]; e++) {
                const float *zr = z + a * s[0] + b * s[1] + e * s[2];
                for (int64_t f = 0; f < d[3]; f++) {
                    float v = *y + zr[f * s[3]];
                    if (st->clamp)
                        v = v < st->lo ? st->lo : (v > st->hi ? st->hi : v);
                    *y++ = v;
                }
            }
}

/* Largest phase planes a conv owns (see conv_state.planes). */
#define OWNED_PLANES_BYTES (256 * 1024)

/* The planes of this eval, filled from one image's input. */
static float *planes_of(const conv_state *st, void *scratch)
{
    return st->planes ? st->planes : scratch;
}

static void fill_planes(const conv_state *st, const tq_conv_phase *ph, const float *x,
                        float *planes)
{
    if (st->planes)
        st->conv->phase_fill(&st->geom, ph, x, planes);
    else
        st->conv->phase_pack(&st->geom, ph, x, planes);
}

/* Bytes of phase planes plus GEMM output a strip may use: the pack writes
 * them, the GEMM rereads the planes once per row tile and the junk-column
 * copy reads the output, so they should stay in L2 next to the weights and
 * the streamed activations (half of a 512 KiB L2; on the CNN fixture at
 * batch 64, 96-192 KiB measured no worse than 384 and better than 768). */
#define STRIP_BYTES (192 * 1024)

/* Images per strip (1 when one image fills the budget), or strip.images = 0
 * when the geometry does not allow strips. */
static void plan_strip(conv_state *st)
{
    const tq_conv2d_geom *g = &st->geom;
    tq_conv_strip one;
    if (!tq_conv_strip_init(g, 1, &one))
        return;
    int64_t phases = 0;
    for (int py = 0; py < g->sh; py++)
        for (int px = 0; px < g->sw; px++)
            phases += tq_conv_phase_used(g->kh, g->dh, g->sh, py) &&
                      tq_conv_phase_used(g->kw, g->dw, g->sw, px);
    int64_t per_image = (g->c * phases * one.img.qh + st->cout_g * g->oh) * one.slot *
                        (int64_t)sizeof(float);
    int64_t n = STRIP_BYTES / (per_image > 0 ? per_image : 1);
    if (n > st->batch)
        n = st->batch;
    if (n < 1)
        n = 1;
    if (!tq_conv_strip_init(g, n, &st->strip))
        st->strip.images = 0;
}

/* Batched indirect conv: a strip of images per GEMM, then each image's
 * columns copied out to Y with Z and the activation. */
static void conv_strips(const conv_state *st, const float *x, const float *w, const float *bias,
                        const float *z, float *y, float *scratch, bool clamp)
{
    const tq_conv2d_geom *g = &st->geom;
    const tq_conv_strip *sp = &st->strip;
    int64_t in_image = st->cin_g * g->ih * g->iw, out_image = st->cout_g * st->pixels;
    float *planes = planes_of(st, scratch), *tmp = scratch + st->scratch_out;
    ptrdiff_t ldc = (ptrdiff_t)(g->oh * sp->img.ld);
    tq_sgemm_post post = { .alpha = 1.0f, .bias = bias };
    if (!st->junk) { /* one image per GEMM, no junk columns: straight into Y */
        ldc = (ptrdiff_t)st->pixels;
        post.ldr = ldc;
        post.clamp = clamp;
        post.lo = st->lo;
        post.hi = st->hi;
    }
    for (int64_t n0 = 0; n0 < st->batch; n0 += sp->images) {
        int64_t n = st->batch - n0 < sp->images ? st->batch - n0 : sp->images;
        /* left to right: each image rewrites its left neighbour's overlap */
        for (int64_t i = 0; i < n; i++)
            fill_planes(st, &sp->img, x + (n0 + i) * in_image, planes + i * sp->slot);
        if (!st->junk) {
            post.residual = z ? z + n0 * out_image : NULL;
            tq_sgemm_indirect(st->gemm, st->cout_g, sp->img.cols, st->k, w, (ptrdiff_t)st->k,
                              planes, st->offs, y + n0 * out_image, ldc, &post);
            continue;
        }
        tq_sgemm_indirect(st->gemm, st->cout_g, tq_conv_strip_cols(g, sp, n), st->k, w,
                          (ptrdiff_t)st->k, planes, st->offs, tmp, ldc, &post);
        for (int64_t i = 0; i < n; i++) {
            int64_t yo = (n0 + i) * out_image;
            st->conv->rows(tmp + i * sp->slot, sp->img.ld, y + yo, z ? z + yo : NULL,
                           st->cout_g * g->oh, g->ow, clamp, st->lo, st->hi);
        }
    }
}

/* TQ_NO_WINOGRAD=1: every conv takes the direct path (to compare). */
static bool winograd_disabled(void)
{
    const char *e = getenv("TQ_NO_WINOGRAD");
    return e && *e && strcmp(e, "0") != 0;
}

static int conv_prepare(tq_op_ctx *c)
{
    bool fused = strcmp(c->node->op_type, "FusedConv") == 0;
    int rc = tq_op_check_arity(c, 2, fused ? 4 : 3);
    if (rc)
        return rc;
    for (int i = 0; i < c->n_in; i++)
        if ((rc = require_float(c, i)))
            return rc;
    const tq_value *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    if (x->rank < 3 || x->rank > 4)
        return tq_op_fail(c, TQ_EUNSUPPORTED,
                          "input '%s' has rank %d; only 1-D and 2-D convolutions (rank 3 or 4) "
                          "are supported",
                          x->name, x->rank);
    if (w->rank != x->rank)
        return tq_op_fail(c, TQ_EFORMAT, "weight '%s' has rank %d, input '%s' rank %d", w->name,
                          w->rank, x->name, x->rank);
    conv_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->gemm = tq_sgemm_dsp_get();
    st->conv = tq_conv_dsp_get();
    int nd = x->rank - 2;
    tq_spatial sp;
    if ((rc = tq_spatial_read(c, nd, w->dims + 2, &sp)))
        return rc;
    if ((rc = read_activation(c, &st->clamp, &st->lo, &st->hi)))
        return rc;
    int64_t group = tq_node_attr_int(c->node, "group", 1);
    int64_t cin = x->dims[1], cout = w->dims[0];
    if (group < 1 || cin % group != 0 || cout % group != 0)
        return tq_op_fail(c, TQ_EFORMAT,
                          "group %lld must divide the input channels of '%s' (%lld) and the "
                          "output channels of '%s' (%lld)",
                          (long long)group, x->name, (long long)cin, w->name, (long long)cout);
    if (w->dims[1] * group != cin)
        return tq_op_fail(c, TQ_EFORMAT,
                          "channel mismatch: input '%s' has %lld channels but weight '%s' "
                          "expects %lld x group %lld",
                          x->name, (long long)cin, w->name, (long long)w->dims[1],
                          (long long)group);
    if (b && (b->rank != 1 || b->dims[0] != cout))
        return tq_op_fail(c, TQ_EFORMAT, "bias '%s' must have shape [%lld]", b->name,
                          (long long)cout);
    int64_t out_sp[TQ_SPATIAL_MAX];
    if ((rc = tq_spatial_forward(c, &sp, x->dims + 2, false, out_sp)))
        return rc;
    /* 1-D is 2-D with a unit leading dim */
    tq_conv2d_geom *g = &st->geom;
    int o = nd == 2 ? 0 : -1;
    g->c = cin / group;
    g->ih = o < 0 ? 1 : x->dims[2];
    g->iw = x->dims[2 + nd - 1];
    g->oh = o < 0 ? 1 : out_sp[0];
    g->ow = out_sp[nd - 1];
    g->kh = o < 0 ? 1 : (int)sp.kernel[0];
    g->kw = (int)sp.kernel[nd - 1];
    g->sh = o < 0 ? 1 : (int)sp.stride[0];
    g->sw = (int)sp.stride[nd - 1];
    g->dh = o < 0 ? 1 : (int)sp.dilation[0];
    g->dw = (int)sp.dilation[nd - 1];
    g->pt = o < 0 ? 0 : (int)sp.pad_begin[0];
    g->pl = (int)sp.pad_begin[nd - 1];
    st->batch = x->dims[0];
    st->group = group;
    st->cin_g = cin / group;
    st->cout_g = cout / group;
    st->k = st->cin_g * g->kh * g->kw;
    st->pixels = g->oh * g->ow;

    bool pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 &&
                     g->pl == 0 && g->oh == g->ih && g->ow == g->iw;
    /* one input channel per group: depthwise, or several outputs of one
     * plane (a grey-image stem) when the vector kernel takes the shape */
    if (st->cin_g == 1 && nd == 2 &&
        (st->cout_g == 1 || (st->cout_g <= INT32_MAX && tq_dwconv_multi_fast(st->conv, g))))
        st->path = PATH_DEPTHWISE;
    else if (pointwise)
        st->path = PATH_1X1;
    else if (group == 1 && w->is_const && tq_wino_suits(g, cout) && !winograd_disabled())
        st->path = PATH_WINOGRAD;
    else
        st->path = PATH_INDIRECT;
    if (st->path == PATH_WINOGRAD) {
        st->wino_dsp = tq_wino_dsp_get();
        tq_wino_plan_init(&st->wino, g, cout, st->batch);
        st->wino_u = malloc(tq_wino_weight_floats(&st->wino) * sizeof(float));
        if (!st->wino_u)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        tq_wino_weights(&st->wino, w->data, st->wino_u);
        c->scratch_bytes = tq_wino_scratch_floats(&st->wino) * sizeof(float);
    }
    if (st->path == PATH_INDIRECT) {
        tq_conv_phase_init(g, &st->phase);
        st->offs = malloc(sizeof(ptrdiff_t) * (size_t)(st->k > 0 ? st->k : 1));
        if (!st->offs)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        tq_conv_phase_offsets(g, &st->phase, st->offs);
        const tq_conv_phase *ph = &st->phase;
        st->junk = ph->qw != g->ow;
        if (group == 1)
            plan_strip(st);
        if (st->strip.images) {
            ph = &st->strip.img;
            tq_conv_phase_offsets(g, ph, st->offs);
            st->junk = st->strip.images > 1 || ph->ld != g->ow;
        }
        size_t planes = tq_conv_phase_floats(g, ph) + 1;
        if (planes * sizeof(float) <= OWNED_PLANES_BYTES) {
            st->planes = calloc(planes, sizeof(float));
            if (!st->planes)
                return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        } else {
            st->scratch_out = planes;
        }
        size_t out = st->junk ? (size_t)(st->cout_g * g->oh * ph->ld) : 0;
        c->scratch_bytes = (st->scratch_out + out) * sizeof(float);
    }
    int64_t od[TQ_MAX_RANK] = { st->batch, cout };
    for (int i = 0; i < nd; i++)
        od[2 + i] = out_sp[i];
    if (c->n_in > 3 && c->in[3] && (rc = prepare_z(c, st, od, x->rank)))
        return rc;
    tq_value_set_shape(c->out[0], TQ_FLOAT, x->rank, od);
    return TQ_OK;
}

static int conv_eval(tq_op_ctx *c)
{
    const conv_state *st = c->state;
    const tq_conv2d_geom *g = &st->geom;
    const float *x = c->in[0]->data, *w = c->in[1]->data;
    const float *bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    const float *z = st->has_z ? c->in[3]->data : NULL;
    float *y = c->out[0]->data;
    int64_t in_plane = g->ih * g->iw;
    /* the epilogue clamps only when nothing is added after it */
    bool late_z = z && (!st->z_full || st->path == PATH_DEPTHWISE);
    bool clamp = st->clamp && !late_z;
    if (st->path == PATH_WINOGRAD) {
        tq_wino_conv(&st->wino, st->gemm, st->wino_dsp, st->batch, x, st->wino_u, bias,
                     late_z ? NULL : z, y, clamp, st->lo, st->hi, c->scratch);
        if (late_z)
            add_z_pass(st, z, y);
        return TQ_OK;
    }
    if (st->strip.images) {
        conv_strips(st, x, w, bias, late_z ? NULL : z, y, c->scratch, clamp);
        if (late_z)
            add_z_pass(st, z, y);
        return TQ_OK;
    }
    for (int64_t n = 0; n < st->batch; n++)
        for (int64_t gi = 0; gi < st->group; gi++) {
            const float *xg = x + (n * st->group + gi) * st->cin_g * in_plane;
            int64_t yoff = (n * st->group + gi) * st->cout_g * st->pixels;
            float *yg = y + yoff;
            const float *zg = z && !late_z ? z + yoff : NULL;
            const float *wg = w + gi * st->cout_g * st->k;
            const float *bg = bias ? bias + gi * st->cout_g : NULL;
            if (st->path == PATH_DEPTHWISE) {
                if (st->cout_g == 1)
                    st->conv->dwconv(g, xg, wg, bg ? bg[0] : 0.0f, yg, clamp, st->lo, st->hi);
                else
                    st->conv->dwconv_multi(g, xg, (int)st->cout_g, wg, bg, yg,
                                           (size_t)st->pixels, clamp, st->lo, st->hi);
                continue;
            }
            tq_sgemm_post post = { .alpha = 1.0f, .bias = bg, .residual = zg,
                                   .ldr = (ptrdiff_t)st->pixels, .clamp = clamp,
                                   .lo = st->lo, .hi = st->hi };
            if (st->path == PATH_1X1) {
                tq_sgemm(st->gemm, st->cout_g, st->pixels, st->k, wg, (ptrdiff_t)st->k, xg,
                         (ptrdiff_t)st->pixels, false, yg, (ptrdiff_t)st->pixels, &post);
                continue;
            }
            const tq_conv_phase *ph = &st->phase;
            float *planes = planes_of(st, c->scratch);
            fill_planes(st, ph, xg, planes);
            if (!st->junk) { /* no junk columns: straight into Y */
                tq_sgemm_indirect(st->gemm, st->cout_g, ph->cols, st->k, wg, (ptrdiff_t)st->k,
                                  planes, st->offs, yg, (ptrdiff_t)st->pixels, &post);
                continue;
            }
            /* junk columns: Z and the clamp move to the copy, where Z's
             * rows line up with Y's */
            float *tmp = (float *)c->scratch + st->scratch_out;
            post.residual = NULL;
            post.clamp = false;
            tq_sgemm_indirect(st->gemm, st->cout_g, ph->cols, st->k, wg, (ptrdiff_t)st->k,
                              planes, st->offs, tmp, (ptrdiff_t)(g->oh * ph->qw), &post);
            st->conv->rows(tmp, ph->qw, yg, zg, st->cout_g * g->oh, g->ow, clamp, st->lo, st->hi);
        }
    if (late_z)
        add_z_pass(st, z, y);
    return TQ_OK;
}

static const tq_op_def op_conv = { "", "Conv", conv_prepare, conv_eval, conv_release };
static const tq_op_def op_fused_conv = { "com.microsoft", "FusedConv", conv_prepare, conv_eval,
                                         conv_release };

/* ------------------------------------------------------- ConvTranspose */

/* Per image and group: cols[Cout_g*taps][in pixels] = W_g^T * X_g (one GEMM
 * with X as raw B), then col2im scatters the columns into the bias-filled
 * output. 1-D, 2-D and 3-D share the 3-D loops. */
typedef struct convt_state {
    const tq_sgemm_dsp *gemm;
    int64_t batch, group, cin_g, cout_g;
    /* spatial geometry as 3-D: missing leading dims have size 1 */
    int64_t in[3], out[3], k[3], s[3], d[3], pad[3];
    int64_t in_pix, out_pix, taps;
    int64_t rows;           /* cout_g * taps */
    float *wt;              /* transposed constant weights, [group][rows][cin_g]; owned */
    size_t scratch_wt;      /* float offset when weights are transposed at eval */
} convt_state;

static void convt_release(void *p)
{
    convt_state *st = p;
    if (st)
        free(st->wt);
    free(st);
}

static void transpose_weights(const convt_state *st, const float *w, float *wt)
{
    for (int64_t gi = 0; gi < st->group; gi++) {
        const float *src = w + gi * st->cin_g * st->rows;
        float *dst = wt + gi * st->rows * st->cin_g;
        for (int64_t ci = 0; ci < st->cin_g; ci++)
            for (int64_t r = 0; r < st->rows; r++)
                dst[r * st->cin_g + ci] = src[ci * st->rows + r];
    }
}

static int convt_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, 2, 3);
    if (rc)
        return rc;
    for (int i = 0; i < c->n_in; i++)
        if ((rc = require_float(c, i)))
            return rc;
    const tq_value *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    if (x->rank < 3 || x->rank > 5)
        return tq_op_fail(c, TQ_EUNSUPPORTED,
                          "input '%s' has rank %d; 1-D to 3-D transposed convolutions (rank "
                          "3..5) are supported",
                          x->name, x->rank);
    if (w->rank != x->rank)
        return tq_op_fail(c, TQ_EFORMAT, "weight '%s' has rank %d, input '%s' rank %d", w->name,
                          w->rank, x->name, x->rank);
    convt_state *st = calloc(1, sizeof *st);
    if (!st)
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    c->state = st;
    st->gemm = tq_sgemm_dsp_get();
    int nd = x->rank - 2;
    tq_spatial sp;
    if ((rc = tq_spatial_read(c, nd, w->dims + 2, &sp)))
        return rc;
    int64_t group = tq_node_attr_int(c->node, "group", 1);
    int64_t cin = x->dims[1];
    if (group < 1 || cin % group != 0 || w->dims[0] != cin)
        return tq_op_fail(c, TQ_EFORMAT,
                          "channel mismatch: input '%s' has %lld channels, weight '%s' has "
                          "%lld (group %lld)",
                          x->name, (long long)cin, w->name, (long long)w->dims[0],
                          (long long)group);
    int64_t cout = w->dims[1] * group;
    if (b && (b->rank != 1 || b->dims[0] != cout))
        return tq_op_fail(c, TQ_EFORMAT, "bias '%s' must have shape [%lld]", b->name,
                          (long long)cout);
    int64_t outpad[TQ_SPATIAL_MAX] = { 0 }, oshape[TQ_SPATIAL_MAX];
    const tq_attr *op = tq_node_attr(c->node, "output_padding");
    const tq_attr *os = tq_node_attr(c->node, "output_shape");
    if (op && (op->type != TQ_ATTR_INTS || op->n != nd))
        return tq_op_fail(c, TQ_EFORMAT, "attribute 'output_padding' must list %d integers", nd);
    if (os && (os->type != TQ_ATTR_INTS || (os->n != nd && os->n != nd + 2)))
        return tq_op_fail(c, TQ_EFORMAT, "attribute 'output_shape' must list %d integers", nd);
    int64_t out_sp[TQ_SPATIAL_MAX];
    for (int i = 0; i < nd; i++) {
        if (op)
            outpad[i] = op->ints[i];
        int64_t in = x->dims[2 + i], s = sp.stride[i];
        int64_t dk = (sp.kernel[i] - 1) * sp.dilation[i] + 1;
        if (outpad[i] < 0 || outpad[i] >= (s > sp.dilation[i] ? s : sp.dilation[i]))
            return tq_op_fail(c, TQ_EFORMAT, "output_padding[%d] = %lld is out of range", i,
                              (long long)outpad[i]);
        if (os || sp.auto_pad == TQ_PAD_SAME_UPPER || sp.auto_pad == TQ_PAD_SAME_LOWER) {
            oshape[i] = os ? os->ints[os->n - nd + i] : in * s;
            int64_t total = s * (in - 1) + outpad[i] + dk - oshape[i];
            if (total < 0)
                total = 0; /* output_shape larger: the extra tail stays at bias */
            /* ONNX: SAME_UPPER puts the larger half at the end, otherwise
             * (SAME_LOWER, or output_shape alone) at the start */
            int64_t half = total / 2;
            sp.pad_begin[i] = sp.auto_pad == TQ_PAD_SAME_UPPER ? half : total - half;
            sp.pad_end[i] = total - sp.pad_begin[i];
            out_sp[i] = oshape[i];
        } else {
            if (sp.auto_pad == TQ_PAD_VALID)
                sp.pad_begin[i] = sp.pad_end[i] = 0;
            out_sp[i] = s * (in - 1) + outpad[i] + dk - sp.pad_begin[i] - sp.pad_end[i];
        }
        if (out_sp[i] <= 0)
            return tq_op_fail(c, TQ_EFORMAT, "spatial dim %d: output size %lld is not positive",
                              i, (long long)out_sp[i]);
    }
    st->batch = x->dims[0];
    st->group = group;
    st->cin_g = cin / group;
    st->cout_g = w->dims[1];
    st->in_pix = st->out_pix = st->taps = 1;
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - nd);
        st->in[i] = j >= 0 ? x->dims[2 + j] : 1;
        st->out[i] = j >= 0 ? out_sp[j] : 1;
        st->k[i] = j >= 0 ? sp.kernel[j] : 1;
        st->s[i] = j >= 0 ? sp.stride[j] : 1;
        st->d[i] = j >= 0 ? sp.dilation[j] : 1;
        st->pad[i] = j >= 0 ? sp.pad_begin[j] : 0;
        st->in_pix *= st->in[i];
        st->out_pix *= st->out[i];
        st->taps *= st->k[i];
    }
    st->rows = st->cout_g * st->taps;
    size_t wt_floats = (size_t)(group * st->rows * st->cin_g);
    size_t scratch = (size_t)(st->rows * st->in_pix);
    if (w->is_const) {
        st->wt = malloc((wt_floats + 1) * sizeof(float));
        if (!st->wt)
            return tq_op_fail(c, TQ_ENOMEM, "out of memory");
        transpose_weights(st, w->data, st->wt);
    } else {
        st->scratch_wt = scratch;
        scratch += wt_floats;
    }
    c->scratch_bytes = scratch * sizeof(float);
    int64_t od[TQ_MAX_RANK] = { st->batch, cout };
    for (int i = 0; i < nd; i++)
        od[2 + i] = out_sp[i];
    tq_value_set_shape(c->out[0], TQ_FLOAT, x->rank, od);
    return TQ_OK;
}

static int convt_eval(tq_op_ctx *c)
{
    const convt_state *st = c->state;
    const float *x = c->in[0]->data;
    const float *bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    float *y = c->out[0]->data, *cols = c->scratch;
    const float *wt = st->wt;
    if (!wt) {
        float *t = cols + st->scratch_wt;
        transpose_weights(st, c->in[1]->data, t);
        wt = t;
    }
    int64_t in_pix = st->in_pix, out_pix = st->out_pix;
    for (int64_t n = 0; n < st->batch; n++)
        for (int64_t gi = 0; gi < st->group; gi++) {
            const float *xg = x + (n * st->group + gi) * st->cin_g * in_pix;
            float *yg = y + (n * st->group + gi) * st->cout_g * out_pix;
            tq_sgemm(st->gemm, st->rows, in_pix, st->cin_g, wt + gi * st->rows * st->cin_g,
                     (ptrdiff_t)st->cin_g, xg, (ptrdiff_t)in_pix, false, cols,
                     (ptrdiff_t)in_pix, NULL);
            for (int64_t m = 0; m < st->cout_g; m++) {
                float *plane = yg + m * out_pix;
                float bv = bias ? bias[gi * st->cout_g + m] : 0.0f;
                for (int64_t i = 0; i < out_pix; i++)
                    plane[i] = bv;
                for (int64_t t = 0; t < st->taps; t++) {
                    int64_t k2 = t % st->k[2], k1 = t / st->k[2] % st->k[1];
                    int64_t k0 = t / (st->k[2] * st->k[1]);
                    const float *col = cols + (m * st->taps + t) * in_pix;
                    for (int64_t i0 = 0; i0 < st->in[0]; i0++) {
                        int64_t o0 = i0 * st->s[0] - st->pad[0] + k0 * st->d[0];
                        if (o0 < 0 || o0 >= st->out[0])
                            continue;
                        for (int64_t i1 = 0; i1 < st->in[1]; i1++) {
                            int64_t o1 = i1 * st->s[1] - st->pad[1] + k1 * st->d[1];
                            if (o1 < 0 || o1 >= st->out[1])
                                continue;
                            float *orow = plane + (o0 * st->out[1] + o1) * st->out[2];
                            const float *crow = col + (i0 * st->in[1] + i1) * st->in[2];
                            for (int64_t i2 = 0; i2 < st->in[2]; i2++) {
                                int64_t o2 = i2 * st->s[2] - st->pad[2] + k2 * st->d[2];
                                if (o2 >= 0 && o2 < st->out[2])
                                    orow[o2] += crow[i2];
                            }
                        }
                    }
                }
            }
        }
    return TQ_OK;
}

static const tq_op_def op_conv_transpose = { "", "ConvTranspose", convt_prepare, convt_eval,
                                             convt_release };

const tq_op_def *const tq_ops_conv[] = { &op_conv, &op_fused_conv, &op_conv_transpose, NULL };
