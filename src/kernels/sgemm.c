/* The blocked fp32 GEMM driver, B packing and the kernel table (sgemm.h). */
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/sgemm.h"

void tq_sgemm_dsp_init(tq_sgemm_dsp *dsp, unsigned cpu_flags)
{
    dsp->tile = tq_sgemm_tile_c;
    dsp->panel = tq_sgemm_panel_c;
#if defined(TQ_HAVE_AVX2)
    if (cpu_flags & TQ_CPU_FLAG_AVX2) {
        dsp->tile = tq_sgemm_tile_avx2;
        dsp->panel = tq_sgemm_panel_avx2;
    }
#else
    (void)cpu_flags;
#endif
}

const tq_sgemm_dsp *tq_sgemm_dsp_get(void)
{
    /* Benign race: concurrent first calls write the same pointers. */
    static tq_sgemm_dsp dsp;
    static volatile int ready;
    if (!ready) {
        tq_sgemm_dsp_init(&dsp, tq_cpu_flags());
        ready = 1;
    }
    return &dsp;
}

size_t tq_sgemm_packed_b_floats(int64_t k, int64_t n)
{
    int64_t panels = (n + TQ_SGEMM_NR - 1) / TQ_SGEMM_NR;
    return (size_t)(panels * TQ_SGEMM_NR * k);
}

void tq_sgemm_pack_b(const float *b, ptrdiff_t stride_k, ptrdiff_t stride_n, int64_t k,
                     int64_t n, float *packed)
{
    for (int64_t j0 = 0; j0 < n; j0 += TQ_SGEMM_NR) {
        int64_t nr = n - j0 < TQ_SGEMM_NR ? n - j0 : TQ_SGEMM_NR;
        for (int64_t kk = 0; kk < k; kk++) {
            const float *src = b + kk * stride_k + j0 * stride_n;
            float *dst = packed + kk * TQ_SGEMM_NR;
            if (stride_n == 1) {
                memcpy(dst, src, (size_t)nr * sizeof(float));
            } else {
                for (int64_t j = 0; j < nr; j++)
                    dst[j] = src[j * stride_n];
            }
            for (int64_t j = nr; j < TQ_SGEMM_NR; j++)
                dst[j] = 0.0f;
        }
        packed += k * TQ_SGEMM_NR;
    }
}

#define INDIRECT_KC 1024

/* Shared blocked loop: B row kk of column j0 is at b + boff(kk) + j0 with
 * boff = kk*ldb (raw), offs[kk] (indirect) or the packed panel layout. */
static void sgemm_blocked(const tq_sgemm_dsp *dsp, int64_t m, int64_t n, int64_t k,
                          const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                          bool b_packed, const ptrdiff_t *offs, float *c, ptrdiff_t ldc,
                          const tq_sgemm_post *post)
{
    static const tq_sgemm_post plain = { .alpha = 1.0f };
    if (!post)
        post = &plain;
    /* K blocks outermost so each B micro-panel (KC x NR) is reused from L1
     * by every row tile; C is revisited once per K block (rare: K > KC).
     * An indirect B (conv taps) rereads a few overlapping input rows, so its
     * L1 footprint is far below K x NR floats: it is blocked only past
     * INDIRECT_KC (a 64-channel 3x3 conv, K = 576, runs in one pass). */
    int64_t k0 = 0;
    do {
        int64_t kcmax = offs ? INDIRECT_KC : TQ_SGEMM_KC;
        int64_t kc = k - k0 < kcmax ? k - k0 : kcmax;
        bool first = k0 == 0, last = k0 + kc >= k;
        bool load_c = first ? post->accumulate : true;
        for (int64_t j0 = 0; j0 < n; j0 += TQ_SGEMM_NR) {
            int nr = (int)(n - j0 < TQ_SGEMM_NR ? n - j0 : TQ_SGEMM_NR);
            const float *bt;
            ptrdiff_t ldbt = ldb;
            const ptrdiff_t *ot = NULL;
            if (b_packed) {
                bt = b + j0 * k + k0 * TQ_SGEMM_NR;
                ldbt = TQ_SGEMM_NR;
            } else if (offs) {
                bt = b + j0;
                ot = offs + k0;
            } else {
                bt = b + k0 * ldb + j0;
            }
            tq_sgemm_epi epi = {
                .alpha = post->alpha,
                .load_c = load_c,
                .bias_row = last && post->bias && !post->bias_per_col ? post->bias : NULL,
                .bias_col = last && post->bias && post->bias_per_col ? post->bias + j0 : NULL,
                .residual = last && post->residual ? post->residual + j0 : NULL,
                .ldr = post->ldr,
                .clamp = last && post->clamp,
                .lo = post->lo,
                .hi = post->hi,
            };
            dsp->panel(m, nr, kc, a + k0, lda, bt, ldbt, ot, c + j0, ldc, &epi);
        }
        k0 += kc;
    } while (k0 < k);
}

void tq_sgemm(const tq_sgemm_dsp *dsp, int64_t m, int64_t n, int64_t k, const float *a,
              ptrdiff_t lda, const float *b, ptrdiff_t ldb, bool b_packed, float *c,
              ptrdiff_t ldc, const tq_sgemm_post *post)
{
    sgemm_blocked(dsp, m, n, k, a, lda, b, ldb, b_packed, NULL, c, ldc, post);
}

void tq_sgemm_indirect(const tq_sgemm_dsp *dsp, int64_t m, int64_t n, int64_t k,
                       const float *a, ptrdiff_t lda, const float *b, const ptrdiff_t *offs,
                       float *c, ptrdiff_t ldc, const tq_sgemm_post *post)
{
    sgemm_blocked(dsp, m, n, k, a, lda, b, 0, false, offs, c, ldc, post);
}
