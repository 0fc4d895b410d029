/* AVX2 conv helpers (conv.h): phase-plane packing and the junk-column copy.
 * The depthwise kernel is in dwconv_avx2.c. */
#include <immintrin.h>

#include "kernels/conv.h"
#include "kernels/x86/avx2_lanes.h"

/* ------------------------------------------------ phase pack, junk rows */
/* Rows are short (7..30 floats): a tail is one overlapping unaligned vector
 * ending at the last element instead of a masked store (vmaskmovps stores
 * are slow on AMD cores). Rows shorter than a vector go scalar. */

static inline void zero_floats(float *d, int64_t n)
{
    if (n < 8) {
        for (int64_t x = 0; x < n; x++)
            d[x] = 0.0f;
        return;
    }
    for (int64_t x = 0; x + 8 <= n; x += 8)
        _mm256_storeu_ps(d + x, _mm256_setzero_ps());
    _mm256_storeu_ps(d + n - 8, _mm256_setzero_ps());
}

static inline __m256 load_strided(const float *p, int stride)
{
    if (stride == 1)
        return _mm256_loadu_ps(p);
    /* p[0..14] are the elements copied; p[15] may lie past the row */
    const __m256i m7 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
    return tq_even8(_mm256_loadu_ps(p), _mm256_maskload_ps(p + 8, m7));
}

/* d[x] = s[x * stride] for x < n; stride 1 or 2 vectorised. room = floats
 * writable at d: a short row (n < 8) is stored as one full vector whose
 * lanes past n are the zeros of the masked load, i.e. the padding. */
static inline void copy_floats(float *d, const float *s, int64_t n, int stride, int64_t room)
{
    if (n < 8 && room >= 8 && stride <= 2) {
        __m256 v;
        if (stride == 1) {
            v = _mm256_maskload_ps(s, tq_lane_mask(n));
        } else {
            int64_t e = 2 * n - 1; /* elements s[0..2n-2] */
            v = tq_even8(_mm256_maskload_ps(s, tq_lane_mask(e)),
                         _mm256_maskload_ps(s + 8, tq_lane_mask(e - 8)));
        }
        _mm256_storeu_ps(d, v);
        return;
    }
    if (n < 8 || stride > 2) {
        for (int64_t x = 0; x < n; x++)
            d[x] = s[x * stride];
        return;
    }
    for (int64_t x = 0; x + 8 <= n; x += 8)
        _mm256_storeu_ps(d + x, load_strided(s + x * stride, stride));
    _mm256_storeu_ps(d + n - 8, load_strided(s + (n - 8) * stride, stride));
}

/* pad: also write the padding zeros (pack) or leave them (fill) */
static inline __attribute__((always_inline)) void
phase_copy(const tq_conv2d_geom *g, const tq_conv_phase *ph, const float *in, float *planes,
           const bool pad)
{
    const int64_t qw = ph->qw;
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int py = 0; py < g->sh; py++)
            for (int px = 0; px < g->sw; px++) {
                if (!tq_conv_phase_used(g->kh, g->dh, g->sh, py) ||
                    !tq_conv_phase_used(g->kw, g->dw, g->sw, px))
                    continue;
                const float *src = in + ci * g->ih * g->iw;
                float *dst = planes + ((ci * g->sh + py) * g->sw + px) * ph->plane;
                int64_t x0, x1;
                tq_conv_phase_cols(g, ph, px, &x0, &x1);
                for (int64_t y = 0; y < ph->qh; y++, dst += ph->ld) {
                    int64_t iy = y * g->sh + py - g->pt;
                    bool inside = iy >= 0 && iy < g->ih && x0 < x1;
                    if (pad && (!inside || x0 > 0 || x1 < qw))
                        zero_floats(dst, qw); /* padding; the copy overwrites the rest */
                    if (inside)
                        copy_floats(dst + x0, src + iy * g->iw + x0 * g->sw + px - g->pl,
                                    x1 - x0, g->sw, qw - x0);
                }
            }
}

void tq_conv_phase_pack_avx2(const tq_conv2d_geom *g, const tq_conv_phase *ph,
                             const float *in, float *planes)
{
    phase_copy(g, ph, in, planes, true);
}

/* The short-row store of copy_floats writes the lanes past the row as zero,
 * which is what the padding there already holds. */
void tq_conv_phase_fill_avx2(const tq_conv2d_geom *g, const tq_conv_phase *ph,
                             const float *in, float *planes)
{
    phase_copy(g, ph, in, planes, false);
}

void tq_conv_rows_avx2(const float *tmp, int64_t qw, float *y, const float *z, int64_t rows,
                       int64_t ow, bool clamp, float lo, float hi)
{
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    if (ow < 8) {
        /* a full vector per row spills into the rows after it, which are
         * written later; rows whose vector would pass the end go scalar */
        const __m256i m = tq_lane_mask(ow);
        int64_t r = 0;
        for (; r * ow + 8 <= rows * ow; r++) {
            __m256 v = _mm256_maskload_ps(tmp + r * qw, m);
            if (z)
                v = _mm256_add_ps(v, _mm256_maskload_ps(z + r * ow, m));
            if (clamp)
                v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v));
            _mm256_storeu_ps(y + r * ow, v);
        }
        if (r < rows)
            tq_conv_rows_c(tmp + r * qw, qw, y + r * ow, z ? z + r * ow : NULL, rows - r, ow,
                           clamp, lo, hi);
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        float *d = y + r * ow;
        const float *s = tmp + r * qw;
        const float *zr = z ? z + r * ow : NULL;
        /* the last vector overlaps the one before: y is not an input, so
         * recomputing an element gives the same value */
        for (int64_t x = 0;; x += 8) {
            if (x + 8 > ow)
                x = ow - 8;
            __m256 v = _mm256_loadu_ps(s + x);
            if (zr)
                v = _mm256_add_ps(v, _mm256_loadu_ps(zr + x));
            if (clamp) /* operand order keeps NaN, like the C reference */
                v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v));
            _mm256_storeu_ps(d + x, v);
            if (x + 8 >= ow)
                break;
        }
    }
}
