/* The input layouts the integer convolution's implicit GEMMs read
 * (qconv.h): the zero-padded int16 image, the channel-quad byte image and
 * its compact shifted copies, and the subsampled input of a 1x1 strided
 * conv. */
#include "runtime/ops/qconv_image.h"

#include <string.h>

/* Image n of x -> the zero-padded, phase-split int16 image (qconv.h). */
void tq_qconv_build_image(const tq_qconv *q, const tq_qdsp *d, const void *xn, int x_zp,
                          int16_t *img)
{
    int64_t plane_in = q->ih * q->iw;
    for (int64_t ci = 0; ci < q->cin; ci++)
        for (int64_t pr = 0; pr < q->ip_rows; pr++) {
            int16_t *dst = img + ci * q->ip_plane + pr * q->ip_row_len;
            int64_t iy = pr - q->pt;
            if (iy < 0 || iy >= q->ih) {
                memset(dst, 0, sizeof(int16_t) * (size_t)q->ip_row_len);
                continue;
            }
            const uint8_t *row = (const uint8_t *)xn + ci * plane_in + iy * q->iw;
            for (int p = 0; p < q->sw; p++) {
                int16_t *ph = dst + p * q->ip_ph_len;
                int64_t lo, hi;
                tq_qconv_phase_span(q, p, q->ip_ph_len, &lo, &hi);
                for (int64_t i = 0; i < lo; i++)
                    ph[i] = 0;
                if (hi > lo)
                    d->widen_s16(ph + lo, row + lo * q->sw + p - q->pl, (int)(hi - lo), q->sw,
                                 x_zp, q->x_signed);
                for (int64_t i = hi; i < q->ip_ph_len; i++)
                    ph[i] = 0;
            }
        }
    memset(img + q->cin * q->ip_plane, 0, 32 * sizeof(int16_t));
}

/* c4_shift (qconv.h): padded row pr of quad cq, split into its column
 * phases in `row` (one phase when sw = 1), into its kw compact copies */
static void c4_shift_copies(const tq_qconv *q, int64_t cq, int64_t pr, const uint8_t *row,
                            uint8_t *img)
{
    int64_t ry = pr % q->sh, j = pr / q->sh;
    for (int kx = 0; kx < q->kw; kx++) {
        int64_t t = (int64_t)kx * q->dw;
        memcpy(img + 4 * tq_qconv_shift_pixel(q, kx, ry, cq, j),
               row + 4 * ((t % q->sw) * q->ip_ph_len + t / q->sw), 4 * (size_t)q->ow);
    }
}
/* Image n -> the channel-quad image: raw bytes (int8 + 128), 4 channels per
 * pixel, padding = the (flipped) zero point, missing channels 0. Each padded
 * row is first laid out per channel in `lines` (in the signed domain, so the
 * one xor while interleaving flips data and padding alike). */
void tq_qconv_build_c4_image(const tq_qconv *q, const tq_qdsp *d, const void *xn, int zpr,
                             uint8_t *img, uint8_t *lines)
{
    int64_t plane_in = q->ih * q->iw, rl = q->ip_row_len;
    /* input bytes -> image bytes: u8 domain (VNNI) or s8 domain (c4_signed) */
    uint8_t xflip = q->x_signed ? 0x80 : 0, dflip = q->c4_signed ? 0x80 : 0;
    uint8_t flip = (uint8_t)(xflip ^ dflip);
    uint8_t pad = (uint8_t)((uint8_t)zpr ^ xflip); /* the zero point as an input byte */
    /* the pixel value of padding: 4 channel bytes (missing channels 0) */
    uint8_t padpix[4];
    uint32_t padword;
    if (q->c4_taps) {
        /* pixel i = bytes x[i..i+3] of the padded row: the interleave of
         * the row with itself shifted by 1, 2, 3 (built in `lines` with 3
         * more pad bytes; taps past kw meet zero weights) */
        for (int64_t pr = 0; pr < q->ip_rows; pr++) {
            int64_t iy = pr - q->pt;
            uint8_t *ln = lines;
            if (iy < 0 || iy >= q->ih) {
                memset(ln, pad, (size_t)rl + 3);
            } else {
                int64_t lo = q->pl < rl ? q->pl : rl, hi = q->pl + q->iw < rl ? q->pl + q->iw : rl;
                memset(ln, pad, (size_t)lo);
                if (hi > lo)
                    memcpy(ln + lo, (const uint8_t *)xn + iy * q->iw + (lo - q->pl),
                           (size_t)(hi - lo));
                memset(ln + hi, pad, (size_t)(rl + 3 - hi));
            }
            const uint8_t *src[4] = { ln, ln + 1, ln + 2, ln + 3 };
            d->interleave4(img + 4 * (pr * rl), src, (int)rl, flip);
        }
        memset(img + 4 * q->ip_plane, 0, 64);
        return;
    }
    if (q->sw == 1 && rl == q->iw && q->ip_rows == q->ih && !q->c4_shift) {
        /* no padding (1x1 convolutions): each quad's image is its 4 planes
         * interleaved, one call per quad instead of one per row */
        for (int64_t cq = 0; cq < q->c4_quads; cq++) {
            const uint8_t *src[4];
            for (int j = 0; j < 4; j++)
                src[j] = (const uint8_t *)xn + (cq * 4 + j < q->cin ? cq * 4 + j : 0) * plane_in;
            d->interleave4(img + 4 * cq * q->ip_plane, src, (int)plane_in, flip);
        }
        memset(img + 4 * q->c4_quads * q->ip_plane, 0, 64);
        return;
    }
    for (int64_t cq = 0; cq < q->c4_quads; cq++) {
        for (int j = 0; j < 4; j++)
            padpix[j] = cq * 4 + j < q->cin ? (uint8_t)((uint8_t)zpr ^ dflip) : 0;
        memcpy(&padword, padpix, 4);
        for (int64_t pr = 0; pr < q->ip_rows && q->sw <= 2; pr++) {
            /* the padded row as 4-byte pixels: stride 1 interleaves the input
             * row straight into place; stride 2 builds it in `lines` and its
             * even / odd pixels are the two column phases. Channels past cin
             * meet zero weights, so they read channel 0's row. */
            /* c4_shift: the phases go to the second half of `lines` */
            uint8_t *dst = q->c4_shift ? (q->sw == 1 ? lines : lines + 4 * rl)
                                       : img + 4 * (cq * q->ip_plane + pr * rl);
            int64_t iy = pr - q->pt;
            if (iy < 0 || iy >= q->ih) {
                for (int64_t i = 0; i < rl; i++)
                    memcpy(dst + 4 * i, &padword, 4);
                if (q->c4_shift)
                    c4_shift_copies(q, cq, pr, dst, img);
                continue;
            }
            uint8_t *row = q->sw == 1 ? dst : lines;
            int64_t lo = q->pl < rl ? q->pl : rl, hi = q->pl + q->iw < rl ? q->pl + q->iw : rl;
            for (int64_t i = 0; i < lo; i++)
                memcpy(row + 4 * i, &padword, 4);
            const uint8_t *src[4];
            for (int j = 0; j < 4; j++)
                src[j] = (const uint8_t *)xn + (cq * 4 + j < q->cin ? cq * 4 + j : 0) * plane_in +
                         iy * q->iw + (lo - q->pl);
            if (hi > lo)
                d->interleave4(row + 4 * lo, src, (int)(hi - lo), flip);
            for (int64_t i = hi; i < rl; i++)
                memcpy(row + 4 * i, &padword, 4);
            if (q->sw == 2)
                d->deint2_u32((uint32_t *)(void *)dst,
                              (uint32_t *)(void *)(dst + 4 * q->ip_ph_len),
                              (const uint32_t *)(const void *)row, (int)q->ip_ph_len);
            if (q->c4_shift)
                c4_shift_copies(q, cq, pr, dst, img);
        }
        if (q->sw <= 2)
            continue;
        for (int64_t pr = 0; pr < q->ip_rows; pr++) {
            int64_t iy = pr - q->pt;
            const uint8_t *src[4];
            for (int j = 0; j < 4; j++) {
                int64_t ci = cq * 4 + j;
                uint8_t *ln = lines + j * rl;
                src[j] = ln;
                if (ci >= q->cin || iy < 0 || iy >= q->ih) {
                    memset(ln, ci >= q->cin ? 0 : pad, (size_t)rl);
                    continue;
                }
                const uint8_t *row = (const uint8_t *)xn + ci * plane_in + iy * q->iw;
                if (q->sw == 1) {
                    int64_t lo = q->pl < rl ? q->pl : rl, hi = q->pl + q->iw < rl ? q->pl + q->iw : rl;
                    memset(ln, pad, (size_t)lo);
                    if (hi > lo)
                        memcpy(ln + lo, row + (lo - q->pl), (size_t)(hi - lo));
                    if (rl > hi)
                        memset(ln + hi, pad, (size_t)(rl - hi));
                    continue;
                }
                for (int p = 0; p < q->sw; p++) {
                    uint8_t *ph = ln + p * q->ip_ph_len;
                    int64_t lo, hi;
                    tq_qconv_phase_span(q, p, q->ip_ph_len, &lo, &hi);
                    memset(ph, pad, (size_t)lo);
                    if (hi > lo)
                        d->gather_u8(ph + lo, row + lo * q->sw + p - q->pl, (int)(hi - lo), q->sw);
                    memset(ph + hi, pad, (size_t)(q->ip_ph_len - hi));
                }
            }
            d->interleave4(img + 4 * (cq * q->ip_plane + pr * rl), src, (int)rl, flip);
        }
    }
    if (q->c4_shift)
        memset(img + 4 * q->kw * q->sh * q->c4_quads * q->c4_rows_par * q->ow, 0, 64);
    else
        memset(img + 4 * q->c4_quads * q->ip_plane, 0, 64);
}
/* The input rows and columns a subsampling 1x1 convolution reads (see
 * tq_qconv_prepare), packed as its stride-1 input. */
void tq_qconv_gather_subsampled(const tq_qconv *q, const tq_qdsp *d, const uint8_t *x,
                                uint8_t *xs)
{
    int64_t plane = q->sub_ih * q->sub_iw;
    for (int64_t n = 0; n < q->batch * q->cin; n++)
        for (int64_t oy = 0; oy < q->oh; oy++)
            d->gather_u8(xs + (n * q->oh + oy) * q->ow, x + n * plane + oy * q->sub_sh * q->sub_iw,
                         (int)q->ow, q->sub_sw);
}
