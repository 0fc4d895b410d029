/* Resize (opsets 10..18): nearest (any dtype), linear and cubic (float32,
 * float16) over any set of axes, with the ONNX coordinate transformation
 * and nearest rounding modes. Interpolation is separable: one 1-D pass per
 * resized axis, last axis first (the order of the ONNX reference), through
 * two float ping-pong buffers in scratch. Sizes/scales decide the output
 * shape, so they must be constant; the plan is computed once in prepare. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/ops_common.h"

enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC };
enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC, CT_TF_HALF_PIXEL_NN,
       CT_TF_CROP_AND_RESIZE };
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };

typedef struct resize_plan {
    int mode, coord, nearest;
    float cubic_a;
    bool exclude_outside;
    float scale[TQ_MAX_RANK]; /* used by the coordinate transform */
    /* tf_crop_and_resize: the crop box per axis (fractions of the input) and
     * the value of output positions whose source lies outside the input. */
    float roi_start[TQ_MAX_RANK], roi_end[TQ_MAX_RANK];
    float extrapolation;
} resize_plan;

static int lookup(tq_op_ctx *c, const char *attr, const char *dflt, const char *const *names,
                  int n, int *out)
{
    const char *v = tq_node_attr_string(c->node, attr, dflt);
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return TQ_OK;
        }
    return tq_op_fail(c, TQ_EUNSUPPORTED, "%s '%s' is not supported", attr, v);
}

static int read_attrs(tq_op_ctx *c, resize_plan *p)
{
    static const char *const modes[] = { "nearest", "linear", "cubic" };
    static const char *const coords[] = { "half_pixel", "pytorch_half_pixel", "align_corners",
                                          "asymmetric", "tf_half_pixel_for_nn",
                                          "tf_crop_and_resize" };
    static const char *const nearests[] = { "round_prefer_floor", "round_prefer_ceil", "floor",
                                            "ceil" };
    int rc = lookup(c, "mode", "nearest", modes, 3, &p->mode);
    if (rc)
        return rc;
    if (c->opset < 11) {
        /* Resize-10 is Upsample-style: asymmetric coordinates, floor. */
        if (p->mode == MODE_CUBIC)
            return tq_op_fail(c, TQ_EFORMAT, "mode 'cubic' needs opset 11");
        p->coord = CT_ASYMMETRIC;
        p->nearest = NM_FLOOR;
        return TQ_OK;
    }
    if ((rc = lookup(c, "coordinate_transformation_mode", "half_pixel", coords, 6, &p->coord)))
        return rc;
    if ((rc = lookup(c, "nearest_mode", "round_prefer_floor", nearests, 4, &p->nearest)))
        return rc;
    p->cubic_a = tq_node_attr_float(c->node, "cubic_coeff_a", -0.75f);
    p->exclude_outside = tq_node_attr_int(c->node, "exclude_outside", 0) != 0;
    p->extrapolation = tq_node_attr_float(c->node, "extrapolation_value", 0.0f);
    return TQ_OK;
}

/* Axes the scales/sizes refer to (opset 18 'axes'; all axes otherwise). */
static int read_axes(tq_op_ctx *c, int rank, int *axes, int *n)
{
    const tq_attr *a = tq_node_attr(c->node, "axes");
    if (!a) {
        for (int i = 0; i < rank; i++)
            axes[i] = i;
        *n = rank;
        return TQ_OK;
    }
    if (a->type != TQ_ATTR_INTS || a->n > rank)
        return tq_op_fail(c, TQ_EFORMAT, "attribute 'axes' must list at most %d axes", rank);
    for (int i = 0; i < a->n; i++) {
        int rc = tq_axis_norm(c, a->ints[i], rank, false, &axes[i]);
        if (rc)
            return rc;
    }
    *n = a->n;
    return TQ_OK;
}

static bool present(const tq_op_ctx *c, int i)
{
    return i < c->n_in && c->in[i] && tq_value_numel(c->in[i]) > 0;
}

static int plan_shape(tq_op_ctx *c, resize_plan *p, int64_t *out_dims)
{
    const tq_value *x = c->in[0];
    int axes[TQ_MAX_RANK], n_axes = 0;
    int rc = read_axes(c, x->rank, axes, &n_axes);
    if (rc)
        return rc;
    for (int i = 0; i < x->rank; i++) {
        p->scale[i] = 1.0f;
        out_dims[i] = x->dims[i];
        p->roi_start[i] = 0.0f;
        p->roi_end[i] = 1.0f;
    }
    if (p->coord == CT_TF_CROP_AND_RESIZE) {
        float roi[2 * TQ_MAX_RANK];
        int n;
        if (!present(c, 1))
            return tq_op_fail(c, TQ_EFORMAT, "tf_crop_and_resize needs the roi input");
        if ((rc = tq_op_const_floats(c, 1, roi, 2 * TQ_MAX_RANK, &n)))
            return rc;
        if (n != 2 * n_axes)
            return tq_op_fail(c, TQ_EFORMAT, "roi has %d values, expected %d", n, 2 * n_axes);
        for (int i = 0; i < n_axes; i++) {
            p->roi_start[axes[i]] = roi[i];
            p->roi_end[axes[i]] = roi[n_axes + i];
        }
    }
    int scales_at = c->opset < 11 ? 1 : 2, sizes_at = 3;
    if (present(c, scales_at)) {
        float scales[TQ_MAX_RANK];
        int n;
        if ((rc = tq_op_const_floats(c, scales_at, scales, TQ_MAX_RANK, &n)))
            return rc;
        if (n != n_axes)
            return tq_op_fail(c, TQ_EFORMAT, "has %d scales for %d axes", n, n_axes);
        for (int i = 0; i < n; i++) {
            if (!(scales[i] > 0.0f))
                return tq_op_fail(c, TQ_EFORMAT, "scale %g must be positive", scales[i]);
            p->scale[axes[i]] = scales[i];
            out_dims[axes[i]] = (int64_t)floorf(scales[i] * (float)x->dims[axes[i]]);
        }
    } else if (present(c, sizes_at)) {
        int64_t sizes[TQ_MAX_RANK];
        int n;
        if ((rc = tq_op_const_ints(c, sizes_at, sizes, TQ_MAX_RANK, &n)))
            return rc;
        if (n != n_axes)
            return tq_op_fail(c, TQ_EFORMAT, "has %d sizes for %d axes", n, n_axes);
        const char *policy = tq_node_attr_string(c->node, "keep_aspect_ratio_policy", "stretch");
        bool not_larger = strcmp(policy, "not_larger") == 0;
        bool not_smaller = strcmp(policy, "not_smaller") == 0;
        if (!not_larger && !not_smaller && strcmp(policy, "stretch") != 0)
            return tq_op_fail(c, TQ_EUNSUPPORTED, "keep_aspect_ratio_policy '%s'", policy);
        float common = not_larger ? INFINITY : 0.0f;
        for (int i = 0; i < n; i++) {
            if (sizes[i] <= 0 || x->dims[axes[i]] <= 0)
                return tq_op_fail(c, TQ_EFORMAT, "size %lld for axis %d is invalid",
                                  (long long)sizes[i], axes[i]);
            float s = (float)sizes[i] / (float)x->dims[axes[i]];
            common = not_larger ? fminf(common, s) : fmaxf(common, s);
            p->scale[axes[i]] = s;
            out_dims[axes[i]] = sizes[i];
        }
        if (not_larger || not_smaller)
            for (int i = 0; i < n; i++) {
                p->scale[axes[i]] = common;
                out_dims[axes[i]] = (int64_t)roundf(common * (float)x->dims[axes[i]]);
            }
    } else {
        return tq_op_fail(c, TQ_EFORMAT, "needs non-empty scales or sizes");
    }
    return TQ_OK;
}

/* Greatest float buffer needed by the separable passes. */
static int64_t max_stage_numel(const tq_value *x, const int64_t *out_dims)
{
    int64_t dims[TQ_MAX_RANK], best = tq_value_numel(x);
    memcpy(dims, x->dims, sizeof dims);
    for (int d = x->rank - 1; d >= 0; d--) {
        dims[d] = out_dims[d];
        int64_t n = tq_shape_numel(dims, x->rank);
        best = n > best ? n : best;
    }
    return best;
}

static int taps_of(const resize_plan *p)
{
    return p->mode == MODE_NEAREST ? 1 : p->mode == MODE_LINEAR ? 2 : 4;
}

static int resize_prepare(tq_op_ctx *c)
{
    int rc = tq_op_check_arity(c, c->opset < 11 ? 2 : 1, c->opset < 11 ? 2 : 4);
    if (rc)
        return rc;
    const tq_value *x = c->in[0];
    resize_plan p;
    if ((rc = read_attrs(c, &p)))
        return rc;
    int64_t out_dims[TQ_MAX_RANK];
    if ((rc = plan_shape(c, &p, out_dims)))
        return rc;
    if (p.mode != MODE_NEAREST && x->dtype != TQ_FLOAT && x->dtype != TQ_FLOAT16)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "interpolating type %s (float32/float16 only)",
                          tq_dtype_name(x->dtype));
    if (tq_dtype_size(x->dtype) == 0)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "unsupported type %s", tq_dtype_name(x->dtype));
    if (p.coord == CT_TF_CROP_AND_RESIZE && x->dtype != TQ_FLOAT && x->dtype != TQ_FLOAT16)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "tf_crop_and_resize on type %s (float only)",
                          tq_dtype_name(x->dtype));
    if (tq_node_attr_int(c->node, "antialias", 0) && p.mode != MODE_NEAREST)
        for (int i = 0; i < x->rank; i++)
            if (p.scale[i] < 1.0f)
                return tq_op_fail(c, TQ_EUNSUPPORTED, "antialiased downsampling");
    tq_value_set_shape(c->out[0], x->dtype, x->rank, out_dims);
    if (!c->state && !(c->state = malloc(sizeof p)))
        return tq_op_fail(c, TQ_ENOMEM, "out of memory");
    memcpy(c->state, &p, sizeof p);
    int64_t table = 0;
    for (int i = 0; i < x->rank; i++)
        table += out_dims[i] * taps_of(&p);
    c->scratch_bytes = (size_t)table * (sizeof(int64_t) + sizeof(float));
    if (p.mode != MODE_NEAREST)
        c->scratch_bytes += 2 * (size_t)max_stage_numel(x, out_dims) * sizeof(float);
    return TQ_OK;
}

static double source_coord(const resize_plan *p, int axis, int64_t j, int64_t in, int64_t out)
{
    double s = p->scale[axis];
    switch (p->coord) {
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? (j + 0.5) / s - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return out == 1 ? 0.0 : (double)j * (double)(in - 1) / (double)(out - 1);
    case CT_ASYMMETRIC: return j / s;
    case CT_TF_HALF_PIXEL_NN: return (j + 0.5) / s;
    case CT_TF_CROP_AND_RESIZE: {
        double a = p->roi_start[axis], b = p->roi_end[axis];
        return out > 1 ? a * (double)(in - 1) + (double)j * (b - a) * (double)(in - 1) / (double)(out - 1)
                       : 0.5 * (a + b) * (double)(in - 1);
    }
    default: return (j + 0.5) / s - 0.5;
    }
}

static int64_t clamp_index(int64_t i, int64_t n)
{
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

static int64_t nearest_index(const resize_plan *p, double x, int64_t in)
{
    double f = floor(x);
    double r;
    switch (p->nearest) {
    case NM_FLOOR: r = f; break;
    case NM_CEIL: r = ceil(x); break;
    case NM_ROUND_PREFER_CEIL: r = x - f == 0.5 ? f + 1 : floor(x + 0.5); break;
    default: r = x - f == 0.5 ? f : floor(x + 0.5); break;
    }
    return clamp_index((int64_t)r, in);
}

/* Fills taps source indices and weights for output positions 0..out-1.
 * Returns true when the axis maps identically (the pass can be skipped). */
static bool axis_taps(const resize_plan *p, int axis, int64_t in, int64_t out, int64_t *idx,
                      float *w)
{
    int taps = taps_of(p);
    bool identity = in == out;
    for (int64_t j = 0; j < out; j++) {
        double x = source_coord(p, axis, j, in, out);
        int64_t *ix = idx + j * taps;
        float *wx = w + j * taps;
        if (p->mode == MODE_NEAREST) {
            ix[0] = nearest_index(p, x, in);
            wx[0] = 1.0f;
            identity &= ix[0] == j;
            continue;
        }
        double f = floor(x), r = x - f;
        identity &= x == (double)j;
        if (p->mode == MODE_LINEAR) {
            ix[0] = clamp_index((int64_t)f, in);
            ix[1] = clamp_index((int64_t)f + 1, in);
            wx[0] = (float)(1.0 - r);
            wx[1] = (float)r;
            continue;
        }
        double a = p->cubic_a, cw[4];
        double t0 = r + 1, t1 = r, t2 = 1 - r, t3 = 2 - r;
        cw[0] = ((a * t0 - 5 * a) * t0 + 8 * a) * t0 - 4 * a;
        cw[1] = ((a + 2) * t1 - (a + 3)) * t1 * t1 + 1;
        cw[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
        cw[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
        double sum = 0;
        for (int k = 0; k < 4; k++) {
            int64_t at = (int64_t)f - 1 + k;
            if (p->exclude_outside && (at < 0 || at >= in))
                cw[k] = 0;
            sum += cw[k];
            ix[k] = clamp_index(at, in);
        }
        for (int k = 0; k < 4; k++)
            wx[k] = (float)(p->exclude_outside && sum != 0 ? cw[k] / sum : cw[k]);
    }
    return identity;
}

static void nearest_eval(tq_op_ctx *c, int64_t **tables)
{
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    int r = x->rank;
    size_t es = tq_dtype_size(x->dtype);
    int64_t in_stride[TQ_MAX_RANK], s = 1;
    for (int i = r - 1; i >= 0; i--) {
        in_stride[i] = s;
        s *= x->dims[i];
    }
    int64_t n = r ? y->dims[r - 1] : 1, outer = tq_value_numel(y) / (n ? n : 1);
    const int64_t *last = r ? tables[r - 1] : NULL;
    int64_t idx[TQ_MAX_RANK] = { 0 };
    const char *src = x->data;
    char *dst = y->data;
    for (int64_t k = 0; k < outer; k++, dst += n * (int64_t)es) {
        int64_t base = 0;
        for (int d = 0; d < r - 1; d++)
            base += tables[d][idx[d]] * in_stride[d];
        const char *row = src + base * (int64_t)es;
        switch (es) {
#define GATHER(T)                                                                          \
    for (int64_t i = 0; i < n; i++)                                                        \
        ((T *)dst)[i] = ((const T *)row)[r ? last[i] : 0];                                 \
    break;
        case 1: GATHER(uint8_t)
        case 2: GATHER(uint16_t)
        case 4: GATHER(uint32_t)
        default: GATHER(uint64_t)
#undef GATHER
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->dims[d])
                break;
            idx[d] = 0;
        }
    }
}

/* One 1-D interpolation pass along axis over [outer, in, inner] -> [outer, out, inner]. */
static void interp_pass(const float *src, float *dst, int64_t outer, int64_t in, int64_t out,
                        int64_t inner, const int64_t *idx, const float *w, int taps)
{
    for (int64_t o = 0; o < outer; o++) {
        const float *s = src + o * in * inner;
        for (int64_t j = 0; j < out; j++) {
            float *d = dst + (o * out + j) * inner;
            const int64_t *ix = idx + j * taps;
            const float *wx = w + j * taps;
            for (int64_t i = 0; i < inner; i++) {
                float acc = 0.0f;
                for (int t = 0; t < taps; t++)
                    acc += wx[t] * s[ix[t] * inner + i];
                d[i] = acc;
            }
        }
    }
}

/* tf_crop_and_resize: outputs whose source coordinate falls outside the
 * input on any axis take extrapolation_value. */
static void extrapolate(const resize_plan *p, const tq_value *x, tq_value *y)
{
    int r = x->rank;
    int64_t idx[TQ_MAX_RANK] = { 0 }, n = tq_value_numel(y);
    for (int64_t i = 0; i < n; i++) {
        bool outside = false;
        for (int d = 0; d < r && !outside; d++) {
            double s = source_coord(p, d, idx[d], x->dims[d], y->dims[d]);
            outside = s < 0.0 || s > (double)(x->dims[d] - 1);
        }
        if (outside) {
            if (y->dtype == TQ_FLOAT)
                ((float *)y->data)[i] = p->extrapolation;
            else
                ((uint16_t *)y->data)[i] = tq_float_to_half(p->extrapolation);
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d])
                break;
            idx[d] = 0;
        }
    }
}

static int resize_eval(tq_op_ctx *c)
{
    const resize_plan *p = c->state;
    const tq_value *x = c->in[0];
    tq_value *y = c->out[0];
    int r = x->rank, taps = taps_of(p);
    if (tq_value_numel(y) == 0)
        return TQ_OK;
    int64_t *tables[TQ_MAX_RANK];
    float *weights[TQ_MAX_RANK];
    bool identity[TQ_MAX_RANK];
    char *mem = c->scratch;
    for (int d = 0; d < r; d++) {
        tables[d] = (int64_t *)mem;
        mem += (size_t)(y->dims[d] * taps) * sizeof(int64_t);
    }
    for (int d = 0; d < r; d++) {
        weights[d] = (float *)mem;
        mem += (size_t)(y->dims[d] * taps) * sizeof(float);
        identity[d] = axis_taps(p, d, x->dims[d], y->dims[d], tables[d], weights[d]);
    }
    if (p->mode == MODE_NEAREST) {
        nearest_eval(c, tables);
        if (p->coord == CT_TF_CROP_AND_RESIZE)
            extrapolate(p, x, y);
        return TQ_OK;
    }
    int64_t cap = max_stage_numel(x, y->dims);
    float *buf[2] = { (float *)mem, (float *)mem + cap };
    int64_t n_in = tq_value_numel(x);
    for (int64_t i = 0; i < n_in; i++)
        buf[0][i] = x->dtype == TQ_FLOAT ? ((const float *)x->data)[i]
                                         : tq_half_to_float(((const uint16_t *)x->data)[i]);
    int cur = 0;
    int64_t dims[TQ_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    for (int d = r - 1; d >= 0; d--) {
        if (identity[d])
            continue;
        int64_t outer = tq_shape_numel(dims, d), inner = tq_shape_numel(dims + d + 1, r - d - 1);
        interp_pass(buf[cur], buf[1 - cur], outer, dims[d], y->dims[d], inner, tables[d],
                    weights[d], taps);
        dims[d] = y->dims[d];
        cur = 1 - cur;
    }
    int64_t n_out = tq_value_numel(y);
    for (int64_t i = 0; i < n_out; i++) {
        if (y->dtype == TQ_FLOAT)
            ((float *)y->data)[i] = buf[cur][i];
        else
            ((uint16_t *)y->data)[i] = tq_float_to_half(buf[cur][i]);
    }
    if (p->coord == CT_TF_CROP_AND_RESIZE)
        extrapolate(p, x, y);
    return TQ_OK;
}

static void resize_release(void *state)
{
    free(state);
}

static const tq_op_def resize_def = { "", "Resize", resize_prepare, resize_eval, resize_release };

const tq_op_def *const tq_ops_resize[] = { &resize_def, NULL };
