/* Winograd F(2x2, 3x3) convolution driver: plan, weight transform, the
 * block loop and the kernel table (winograd.h). */
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/winograd.h"

void tq_wino_dsp_init(tq_wino_dsp *dsp, unsigned cpu_flags)
{
    dsp->in = tq_wino_in_c;
    dsp->out = tq_wino_out_c;
#if defined(TQ_HAVE_AVX2)
    if (cpu_flags & TQ_CPU_FLAG_AVX2) {
        dsp->in = tq_wino_in_avx2;
        dsp->out = tq_wino_out_avx2;
    }
#else
    (void)cpu_flags;
#endif
}

const tq_wino_dsp *tq_wino_dsp_get(void)
{
    /* Benign race: concurrent first calls write the same pointers. */
    static tq_wino_dsp dsp;
    static volatile int ready;
    if (!ready) {
        tq_wino_dsp_init(&dsp, tq_cpu_flags());
        ready = 1;
    }
    return &dsp;
}

/* Below 8 channels on either side the transforms cost about what the
 * GEMMs save (each tile: ~6 vector ops per channel of transforms against
 * 20*cin*cout/8 FMAs saved). */
#define WINO_MIN_CHANNELS 8

bool tq_wino_suits(const tq_conv2d_geom *g, int64_t cout)
{
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
           g->c >= WINO_MIN_CHANNELS && cout >= WINO_MIN_CHANNELS && g->oh >= 1 && g->ow >= 1;
}

static int64_t round_up8(int64_t n)
{
    return (n + TQ_WINO_VEC - 1) / TQ_WINO_VEC * TQ_WINO_VEC;
}

static int64_t round_up_nr(int64_t n)
{
    return (n + TQ_SGEMM_NR - 1) / TQ_SGEMM_NR * TQ_SGEMM_NR;
}

/* Columns of V the input transform writes for nr tile rows (whole vectors
 * of tiles in the last row). */
static int64_t gemm_cols(int64_t tw, int64_t nr)
{
    return (nr - 1) * tw + round_up8(tw);
}

/* V and M of one block: the input transform writes them, the GEMMs reread
 * V once per row tile and the output transform reads M, so they should sit
 * in L2 beside the weights (half of a 512 KiB-1 MiB L2). */
#define WINO_BLOCK_BYTES (256 * 1024)

/* The transforms touch all 16 matrices of V (or M) at once: with a
 * power-of-two distance they would share one L1 set (8 ways) and evict each
 * other, so consecutive matrices are skewed by one cache line. */
static int64_t skewed(int64_t floats)
{
    return (floats + 15) / 16 * 16 + 16;
}

void tq_wino_plan_init(tq_wino_plan *p, const tq_conv2d_geom *g, int64_t cout, int64_t batch)
{
    memset(p, 0, sizeof *p);
    p->geom = *g;
    p->cout = cout;
    p->th = (g->oh + 1) / 2;
    p->tw = (g->ow + 1) / 2;
    int64_t per_tile = (g->c + cout) * TQ_WINO_XI * (int64_t)sizeof(float);
    int64_t rows_max = WINO_BLOCK_BYTES / (per_tile * p->tw);
    if (rows_max < 1)
        rows_max = 1;
    int64_t total = (batch > 0 ? batch : 1) * p->th;
    if (rows_max > total)
        rows_max = total;
    /* the GEMMs run whole 24-column tiles: pick the block height that wastes
     * the fewest of their columns (the larger one on ties) */
    p->block_rows = 1;
    double best = 0.0;
    for (int64_t nr = 1; nr <= rows_max; nr++) {
        double used = (double)(nr * p->tw) / (double)round_up_nr(gemm_cols(p->tw, nr));
        if (used >= best - 1e-9) {
            best = used;
            p->block_rows = nr;
        }
    }
    /* GEMM columns are whole register tiles (NR): no masked partial tile */
    p->ldt = round_up_nr(gemm_cols(p->tw, p->block_rows));
    p->v_xi = skewed(g->c * p->ldt);
    p->m_xi = skewed(cout * p->ldt);
    /* tile tx reads columns 2tx .. 2tx + 3, for tx < round_up8(tw) */
    p->row_floats = round_up8(2 * round_up8(p->tw) + 2);
}

size_t tq_wino_scratch_floats(const tq_wino_plan *p)
{
    /* V, M, four row buffers and a zero row */
    return (size_t)(TQ_WINO_XI * (p->v_xi + p->m_xi) + 5 * p->row_floats);
}

size_t tq_wino_weight_floats(const tq_wino_plan *p)
{
    return (size_t)(TQ_WINO_XI * p->cout * p->geom.c);
}

void tq_wino_weights(const tq_wino_plan *p, const float *w, float *u)
{
    int64_t cin = p->geom.c, cout = p->cout;
    for (int64_t co = 0; co < cout; co++)
        for (int64_t ci = 0; ci < cin; ci++) {
            const float *g = w + (co * cin + ci) * 9;
            /* G g (4x3), then (G g) G^T (4x4), in double: G's halves are exact */
            double gg[4][3], t[4][4];
            for (int c = 0; c < 3; c++) {
                double a = g[c], b = g[3 + c], d = g[6 + c];
                gg[0][c] = a;
                gg[1][c] = 0.5 * (a + b + d);
                gg[2][c] = 0.5 * (a - b + d);
                gg[3][c] = d;
            }
            for (int r = 0; r < 4; r++) {
                double a = gg[r][0], b = gg[r][1], d = gg[r][2];
                t[r][0] = a;
                t[r][1] = 0.5 * (a + b + d);
                t[r][2] = 0.5 * (a - b + d);
                t[r][3] = d;
            }
            for (int xi = 0; xi < TQ_WINO_XI; xi++)
                u[(xi * cout + co) * cin + ci] = (float)t[xi / 4][xi % 4];
        }
}

/* Input transform of a block: every channel's tile rows into V. Input rows
 * are copied once per channel into zero-bordered buffers (slot = row mod 4:
 * a tile's four rows never share a slot, and the next tile row reuses two). */
static void transform_block(const tq_wino_plan *p, const tq_wino_dsp *dsp, const float *x,
                            int64_t r0, int64_t nr, float *v, float *rowbuf, const float *zero)
{
    const tq_conv2d_geom *g = &p->geom;
    int64_t cin = g->c, in_plane = g->ih * g->iw;
    int64_t copy = g->iw < p->row_floats - g->pl ? g->iw : p->row_floats - g->pl;
    for (int64_t ci = 0; ci < cin; ci++) {
        int64_t tag[4] = { -1, -1, -1, -1 };
        int64_t n = r0 / p->th, ty = r0 % p->th;
        for (int64_t lr = 0; lr < nr; lr++, ty++) {
            if (ty == p->th) { /* next image */
                ty = 0;
                n++;
            }
            const float *plane = x + (n * cin + ci) * in_plane;
            const float *rows[4];
            for (int i = 0; i < 4; i++) {
                int64_t iy = 2 * ty - g->pt + i;
                if (iy < 0 || iy >= g->ih) {
                    rows[i] = zero;
                    continue;
                }
                int64_t key = n * g->ih + iy;
                float *buf = rowbuf + (key & 3) * p->row_floats;
                if (tag[key & 3] != key) { /* rows are short: a plain loop beats memcpy's call */
                    const float *src = plane + iy * g->iw;
                    float *dst = buf + g->pl;
                    for (int64_t j = 0; j < copy; j++)
                        dst[j] = src[j];
                    tag[key & 3] = key;
                }
                rows[i] = buf;
            }
            dsp->in(rows, p->tw, v + ci * p->ldt + lr * p->tw, (ptrdiff_t)p->v_xi);
        }
    }
}

void tq_wino_conv(const tq_wino_plan *p, const tq_sgemm_dsp *gemm, const tq_wino_dsp *dsp,
                  int64_t batch, const float *x, const float *u, const float *bias,
                  const float *z, float *y, bool clamp, float lo, float hi, float *scratch)
{
    const tq_conv2d_geom *g = &p->geom;
    int64_t cin = g->c, cout = p->cout, out_plane = g->oh * g->ow;
    float *v = scratch, *m = v + TQ_WINO_XI * p->v_xi;
    float *rowbuf = m + TQ_WINO_XI * p->m_xi, *zero = rowbuf + 4 * p->row_floats;
    /* the borders of the row buffers stay zero: copies write [pl, pl + iw) */
    memset(rowbuf, 0, (size_t)(5 * p->row_floats) * sizeof(float));
    /* the GEMMs run whole register tiles, past the columns the input
     * transform writes: those must hold finite numbers (zeros, or a previous
     * block's V), so zero them once */
    int64_t written = gemm_cols(p->tw, p->block_rows);
    if (written < p->ldt)
        for (int xi = 0; xi < TQ_WINO_XI; xi++)
            for (int64_t ci = 0; ci < cin; ci++) {
                float *row = v + xi * p->v_xi + ci * p->ldt + written;
                for (int64_t j = 0; j < p->ldt - written; j++)
                    row[j] = 0.0f;
            }
    int64_t total = batch * p->th;
    for (int64_t r0 = 0; r0 < total; r0 += p->block_rows) {
        int64_t nr = total - r0 < p->block_rows ? total - r0 : p->block_rows;
        transform_block(p, dsp, x, r0, nr, v, rowbuf, zero);
        int64_t cols = round_up_nr(gemm_cols(p->tw, nr));
        for (int xi = 0; xi < TQ_WINO_XI; xi++)
            tq_sgemm(gemm, cout, cols, cin, u + xi * cout * cin, (ptrdiff_t)cin,
                     v + xi * p->v_xi, (ptrdiff_t)p->ldt, false, m + xi * p->m_xi,
                     (ptrdiff_t)p->ldt, NULL);
        /* channel by channel, so each output plane is written as one
         * sequential stream (all channels of a tile row at once would keep
         * cout write streams open) */
        for (int64_t co = 0; co < cout; co++)
            for (int64_t lr = 0; lr < nr; lr++) {
                int64_t n = (r0 + lr) / p->th, ty = (r0 + lr) % p->th;
                int64_t off = (n * cout + co) * out_plane + 2 * ty * g->ow;
                dsp->out(m + co * p->ldt + lr * p->tw, (ptrdiff_t)p->m_xi, p->tw,
                         bias ? bias + co : NULL, z ? z + off : NULL, y + off,
                         2 * ty + 1 < g->oh, g->oh - 2 * ty - 1, g->ow, clamp, lo, hi);
            }
    }
}
