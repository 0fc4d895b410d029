/* AVX2+FMA static int8 depthwise conv (qlinear_dw.h), on the fp32 kernel's
 * scheme (dw_taps_avx2.h): each input row is widened once to (q - x_zp) in
 * float into a zero-padded row buffer (even / odd columns split for stride
 * 2, with one byte shuffle), every output row is nine whole-vector
 * multiply-adds, two output rows sharing their input rows. The sums are
 * exact integers (the caller keeps them below 2^24), so FMA and order do not
 * matter; the sums start at the bias, and the epilogue requantises with
 * tq_requant_c's roundings (rint(acc * mult) + y_zp, saturated) in integer
 * lanes, 8 output bytes a store. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/qlinear_dw.h"
#include "kernels/x86/dw_taps_avx2.h"

typedef struct qd_in {
    __m256 zp;
    bool is_signed;
    uint8_t zp_byte; /* the byte that widens to 0: the padding */
} qd_in;

static inline __attribute__((always_inline)) __m256 widen8(const qd_in *in, __m128i b)
{
    __m256i v = in->is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    return _mm256_sub_ps(_mm256_cvtepi32_ps(v), in->zp);
}

/* The padded byte row: the zero point's byte (which widens to 0) around the
 * input row at [pl, pl + iw); the caller fills it with that byte once per
 * call and fill_row copies each row into the middle. */
typedef struct qd_pad {
    uint8_t b[2 * TQ_DW_MAX_OW + 64];
    int64_t need; /* bytes the vectors read: sw * len + 16 */
} qd_pad;

/* phase p column j = input column j*s + p - pl; the whole row [0, len) is
 * written (the buffers have slack), one load and one conversion a vector. */
static void fill_row(const tq_conv2d_geom *g, const qd_in *in, qd_pad *pad, const void *row,
                     int64_t len, float *ph0, float *ph1)
{
    int64_t n = g->iw < pad->need - g->pl ? g->iw : pad->need - g->pl;
    if (n > 0)
        memcpy(pad->b + g->pl, row, (size_t)n);
    if (g->sw == 1) {
        for (int64_t j = 0; j < len; j += 8)
            _mm256_storeu_ps(ph0 + j,
                             widen8(in, _mm_loadl_epi64((const __m128i *)(pad->b + j))));
        return;
    }
    const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    for (int64_t j = 0; j < len; j += 8) {
        __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pad->b + 2 * j)), split);
        _mm256_storeu_ps(ph0 + j, widen8(in, b));
        _mm256_storeu_ps(ph1 + j, widen8(in, _mm_srli_si128(b, 8)));
    }
}

static const float *row_of(const tq_conv2d_geom *g, const qd_in *in, qd_pad *pad,
                           const void *x, tq_dw_rows *r, int64_t pr, int64_t len)
{
    int64_t iy = pr - g->pt;
    if (iy < 0 || iy >= g->ih)
        return r->zero[0];
    int slot = (int)(iy & (TQ_DW_SLOTS - 1));
    if (r->tag[slot] != iy) {
        fill_row(g, in, pad, (const uint8_t *)x + iy * g->iw, len, r->buf[slot][0],
                 r->buf[slot][1]);
        r->tag[slot] = iy;
    }
    return r->buf[slot][0];
}

typedef struct qd_out {
    __m256 mult;
    __m256i zp;
    bool is_signed;
    int64_t ow;
} qd_out;

/* Vector v of an output row (the accumulators start at the bias, so acc is
 * the exact int32 sum): requantised, 8 bytes stored (the row's last partial
 * vector through a small buffer). cvtps_epi32 rounds to nearest even like
 * rint (the caller keeps |acc * mult| < 2^30), and the two saturating packs
 * clamp to the output type exactly as tq_requant_c's float clamp does. */
static inline __attribute__((always_inline)) void emit(const qd_out *d, __m256 acc,
                                                       uint8_t *orow, int64_t v)
{
    __m256i i = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(acc, d->mult)), d->zp);
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    __m128i b = d->is_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    if (v * 8 + 8 <= d->ow) {
        _mm_storel_epi64((__m128i *)(orow + v * 8), b);
    } else {
        /* the row's last 1..7 bytes in fixed-size pieces (a memcpy of a
         * variable length was a library call per output row) */
        uint64_t bytes = (uint64_t)_mm_cvtsi128_si64(b);
        uint8_t *p = orow + v * 8;
        int64_t n = d->ow - v * 8;
        if (n & 4) {
            uint32_t w4 = (uint32_t)bytes;
            memcpy(p, &w4, 4);
            p += 4;
            bytes >>= 32;
        }
        if (n & 2) {
            uint16_t w2 = (uint16_t)bytes;
            memcpy(p, &w2, 2);
            p += 2;
            bytes >>= 16;
        }
        if (n & 1)
            *p = (uint8_t)bytes;
    }
}

static inline __attribute__((always_inline)) void
emit_pair(const qd_out *d, const __m256 *a0, const __m256 *a1, uint8_t *orow, int64_t v, int nv)
{
#pragma GCC unroll 4
    for (int k = 0; k < nv; k++) {
        emit(d, a0[k], orow, v + k);
        emit(d, a1[k], orow + d->ow, v + k);
    }
}

void tq_qlinear_dw_avx2(const tq_conv2d_geom *g, const void *x, const tq_qlinear_dw_args *a,
                        void *out, size_t out_stride)
{
    /* the padded row: 2 * len + 16 <= 2 * TQ_DW_MAX_OW + 36 bytes, pl of them
     * before the row */
    if (!tq_dw3x3_shape(g) || g->ow > TQ_DW_MAX_OW || g->pl > 2 * TQ_DW_MAX_OW) {
        tq_qlinear_dw_c(g, x, a, out, out_stride);
        return;
    }
    static _Thread_local tq_dw_rows rows; /* 70 KB: too big for some thread stacks */
    static _Thread_local qd_pad pad;
    tq_dw_rows *r = &rows;
    const int s = g->sw;
    const int64_t vecs = (g->ow + 7) / 8, len = vecs * 8 + 2;
    tq_dw_rows_reset(r, len);
    const qd_in in = { _mm256_set1_ps((float)a->x_zp), a->x_signed, (uint8_t)a->x_zp };
    pad.need = s * len + 16;
    memset(pad.b, in.zp_byte, (size_t)pad.need);
    qd_out d = { _mm256_setzero_ps(), _mm256_set1_epi32(a->y_zp), a->y_signed, g->ow };
    __m256 wv[9];
    for (int64_t oy = 0; oy < g->oh; oy += 2) {
        const bool pair = oy + 1 < g->oh;
        const float *rp[5];
        for (int i = 0; i < (pair ? 3 + s : 3); i++)
            rp[i] = row_of(g, &in, &pad, x, r, oy * s + i, len);
        /* the rows are widened once for every output channel */
        for (int o = 0; o < a->nout; o++) {
            for (int t = 0; t < 9; t++)
                wv[t] = _mm256_set1_ps(a->w[9 * o + t]);
            d.mult = _mm256_set1_ps(a->mult[o]);
            uint8_t *orow = (uint8_t *)out + (size_t)o * out_stride + oy * g->ow;
            TQ_DW_CHANNEL_ROWS(&d, rp, s, pair, wv, _mm256_set1_ps(a->bias[o]), vecs, orow);
        }
    }
}
