/* Spatial attribute parsing and output-size rules (spatial.h). */
#include <string.h>

#include "runtime/ops/spatial.h"

static int read_ints(tq_op_ctx *c, const char *name, int nd, int64_t *dst, int64_t dflt,
                     int64_t min)
{
    const tq_attr *a = tq_node_attr(c->node, name);
    for (int i = 0; i < nd; i++)
        dst[i] = dflt;
    if (!a)
        return TQ_OK;
    if (a->type != TQ_ATTR_INTS || a->n != nd)
        return tq_op_fail(c, TQ_EFORMAT, "attribute '%s' must list %d integers, has %d", name,
                          nd, a->n);
    for (int i = 0; i < nd; i++) {
        if (a->ints[i] < min || a->ints[i] > (1 << 24))
            return tq_op_fail(c, TQ_EFORMAT, "attribute '%s'[%d] = %lld is out of range", name,
                              i, (long long)a->ints[i]);
        dst[i] = a->ints[i];
    }
    return TQ_OK;
}

int tq_spatial_read(tq_op_ctx *c, int nd, const int64_t *kernel, tq_spatial *sp)
{
    memset(sp, 0, sizeof *sp);
    if (nd < 1 || nd > TQ_SPATIAL_MAX)
        return tq_op_fail(c, TQ_EUNSUPPORTED, "%d spatial dimensions are not supported", nd);
    sp->nd = nd;
    int rc;
    const tq_attr *ks = tq_node_attr(c->node, "kernel_shape");
    if (!ks && !kernel)
        return tq_op_fail(c, TQ_EFORMAT, "attribute 'kernel_shape' is required");
    if ((rc = read_ints(c, "kernel_shape", nd, sp->kernel, 1, 1)))
        return rc;
    if (kernel) {
        for (int i = 0; i < nd; i++) {
            if (ks && sp->kernel[i] != kernel[i])
                return tq_op_fail(c, TQ_EFORMAT,
                                  "kernel_shape[%d] = %lld contradicts the weight shape (%lld)",
                                  i, (long long)sp->kernel[i], (long long)kernel[i]);
            sp->kernel[i] = kernel[i];
        }
    }
    if ((rc = read_ints(c, "strides", nd, sp->stride, 1, 1)) ||
        (rc = read_ints(c, "dilations", nd, sp->dilation, 1, 1)))
        return rc;
    const tq_attr *pads = tq_node_attr(c->node, "pads");
    if (pads) {
        if (pads->type != TQ_ATTR_INTS || pads->n != 2 * nd)
            return tq_op_fail(c, TQ_EFORMAT, "attribute 'pads' must list %d integers, has %d",
                              2 * nd, pads->n);
        for (int i = 0; i < 2 * nd; i++)
            if (pads->ints[i] < 0 || pads->ints[i] > (1 << 24))
                return tq_op_fail(c, TQ_EFORMAT, "attribute 'pads'[%d] = %lld is out of range",
                                  i, (long long)pads->ints[i]);
        for (int i = 0; i < nd; i++) {
            sp->pad_begin[i] = pads->ints[i];
            sp->pad_end[i] = pads->ints[nd + i];
        }
    }
    const char *ap = tq_node_attr_string(c->node, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0 || *ap == '\0')
        sp->auto_pad = TQ_PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        sp->auto_pad = TQ_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        sp->auto_pad = TQ_PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0)
        sp->auto_pad = TQ_PAD_VALID;
    else
        return tq_op_fail(c, TQ_EFORMAT, "unknown auto_pad '%s'", ap);
    return TQ_OK;
}

int tq_spatial_forward(tq_op_ctx *c, tq_spatial *sp, const int64_t *in, bool ceil_mode,
                       int64_t *out)
{
    for (int i = 0; i < sp->nd; i++) {
        int64_t s = sp->stride[i];
        int64_t dk = (sp->kernel[i] - 1) * sp->dilation[i] + 1;
        int64_t o;
        switch (sp->auto_pad) {
        case TQ_PAD_SAME_UPPER:
        case TQ_PAD_SAME_LOWER: {
            o = (in[i] + s - 1) / s;
            int64_t total = (o - 1) * s + dk - in[i];
            if (total < 0)
                total = 0;
            int64_t small = total / 2;
            sp->pad_begin[i] = sp->auto_pad == TQ_PAD_SAME_UPPER ? small : total - small;
            sp->pad_end[i] = total - sp->pad_begin[i];
            break;
        }
        case TQ_PAD_VALID:
            sp->pad_begin[i] = sp->pad_end[i] = 0;
            o = in[i] >= dk ? (in[i] - dk) / s + 1 : 0;
            break;
        default: {
            int64_t span = in[i] + sp->pad_begin[i] + sp->pad_end[i] - dk;
            if (span < 0) {
                o = 0;
                break;
            }
            o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
            /* a ceil_mode window must start inside the input or its left pad */
            if (ceil_mode && (o - 1) * s >= in[i] + sp->pad_begin[i])
                o--;
            break;
        }
        }
        if (o <= 0)
            return tq_op_fail(c, TQ_EFORMAT,
                              "spatial dim %d: input size %lld is smaller than the kernel "
                              "extent %lld after padding",
                              i, (long long)in[i], (long long)dk);
        out[i] = o;
    }
    return TQ_OK;
}
