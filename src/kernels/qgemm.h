/* Exact integer GEMM and quantise/dequantise kernels for the int8 ops.
 *
 * Arithmetic scheme (why it is exact on AVX2 without VNNI): every 8-bit
 * operand is widened to int16 with its zero point already subtracted
 * (u8 - zp and s8 - zp both lie in [-255, 255]), and the dot product runs on
 * pairs of int16 with vpmaddwd (int16 x int16 -> int32, pairwise summed).
 * No intermediate can saturate: |a*b + c*d| <= 2 * 255 * 255 < 2^31. The raw
 * u8 x s8 vpmaddubsw (saturating int16 pair sums) is used only where its
 * pair sums provably stay inside int16: qgemm_c4s feeds it |a| <= 128 and
 * weights in [-127, 127] (the sign trick), and qgemm_c4u runs only on
 * weights checked at packing time to have 255 * (|w_a| + |w_b|) <= 32767
 * for every pair (tq_qgemm_c4u_fits; reduce-range weights always pass).
 * Subtracting zero points while widening costs nothing (the widening pass
 * exists anyway), so the GEMM needs no per-row/column offset correction; an
 * optional per-row int32 initial value carries folded biases.
 *
 * Layout: A is M rows of K2 int16 (K2 even, row stride lda), B is K2 rows of
 * int16 (row stride ldb, a multiple of 16, columns N..ldb-1 zero), C is M rows
 * of int32 (stride ldc). Odd K is padded with a zero column in A / zero row
 * in B by the packers below.
 *
 * Dispatch: one table (tq_qdsp) filled with the C references first, then
 * overridden by AVX2 versions when tq_cpu_flags() (kernels/cpu.h) reports
 * AVX2, and qgemm_ind by its AVX512-VNNI version (x86/qgemm_vnni.c) when
 * TQ_CPU_FLAG_AVX512VNNI is set (qgemm_c4 likewise; qgemm_c4s is the
 * AVX2-only channel-quad kernel, used when VNNI is absent, and qgemm_c4u
 * the faster AVX2 one for weights with small pair sums); tests force the C path with
 * tq_cpu_set_mask(0) or TQ_CPU_MASK=0 (TQ_CPU_MASK=1: AVX2 without VNNI). */
#ifndef TQ_KERNELS_QGEMM_H
#define TQ_KERNELS_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#define TQ_QGEMM_NB 16 /* column block: B row strides are multiples of this */

typedef void (*tq_qgemm_fn)(int M, int N, int K2, const int16_t *a, size_t lda,
                            const int16_t *b, size_t ldb, const int32_t *row_init,
                            int32_t *c, size_t ldc);
/* q[i] = clamp(rint(x[i] / scale) + zp, qmin, qmax), evaluated in float with
 * round-half-to-even (the ONNX QuantizeLinear formula, as ONNX Runtime computes
 * it). is_signed selects int8 ([-128,127]) or uint8 ([0,255]) output. */
typedef void (*tq_quantize_fn)(const float *x, size_t n, float scale, int zp, int is_signed,
                               void *q);
/* Min and max of x (n >= 1); NaNs are ignored unless all values are NaN. */
typedef void (*tq_minmax_fn)(const float *x, size_t n, float *mn, float *mx);
/* In place: y[m][j] = (float)c[m][j] * scale[m] + bias[m] (bias may be NULL),
 * for m < M, j < N, row stride ld; c and y alias (int32 in, float out). The
 * multiply and add are separate roundings (no FMA), exactly like the unfused
 * Cast -> Mul -> Add chain. */
typedef void (*tq_dequant_rows_fn)(int32_t *c, int M, int N, size_t ld, const float *scale,
                                   const float *bias);

/* Activation applied last by tq_epilogue_rows_fn, written exactly like the
 * Relu (x > 0 ? x : 0) and Clip (x < lo ? lo : x, then x > hi ? hi : x) ops so
 * fused and unfused graphs agree bit for bit (NaN and -0 included). */
typedef enum { TQ_QACT_NONE = 0, TQ_QACT_RELU = 1, TQ_QACT_CLIP = 2 } tq_qact_kind;
typedef struct tq_qact {
    int kind;
    float lo, hi;
} tq_qact;
/* In place, like dequant_rows, then y += res[m][j] (res may be NULL, row
 * stride res_ld; a separate rounding like the unfused residual Add), then the
 * activation. */
typedef void (*tq_epilogue_rows_fn)(int32_t *c, int M, int N, size_t ld, const float *scale,
                                    const float *bias, const float *res, size_t res_ld,
                                    const tq_qact *act);
/* The same per column: y[m][n] = act((float)c[m][n] * scale[n] [+ bias[n]])
 * in place (a MatMul's output channels are its columns); with mn and mx
 * (else NULL) the results' min / max are folded in as epilogue_rows_mm. */
typedef void (*tq_epilogue_cols_fn)(int32_t *c, int M, int N, size_t ld, const float *scale,
                                    const float *bias, const tq_qact *act, float *mn,
                                    float *mx);
/* epilogue_rows, also folding the results' min / max into *mn / *mx (NaNs
 * skipped, as tq_minmax_fn): the next DynamicQuantizeLinear's range while
 * the rows are in registers, instead of a second pass. */
typedef void (*tq_epilogue_rows_mm_fn)(int32_t *c, int M, int N, size_t ld, const float *scale,
                                       const float *bias, const float *res, size_t res_ld,
                                       const tq_qact *act, float *mn, float *mx);

/* Depthwise taps, exact in float: out[i] = init + sum_t w[t] * src[t][i] for
 * i < n. Every w and src value is an integer with |v| <= 255 (8-bit minus zero
 * point), so each product is exact in float and the sum of up to
 * TQ_QDW_MAX_TAPS of them stays below 2^24: every partial sum is exact and
 * the order (or FMA) cannot change it. Converting to int32 is exact too. */
#define TQ_QDW_MAX_TAPS 256
typedef void (*tq_qdw_taps_fn)(int32_t *out, int n, const float *const *src, const float *w,
                               int ntaps, int32_t init);

/* dst[i] = (float)(src[i * step] - zp) for i < n (src int8 when is_signed,
 * else uint8); reads no byte past src[(n - 1) * step]. */
typedef void (*tq_qwiden_f32_fn)(float *dst, const void *src, int n, int step, int zp,
                                 int is_signed);

/* q[i] = clamp(rint(x[i] / scale) + zp, 0, 255) - zp as int16: uint8
 * QuantizeLinear (DynamicQuantizeLinear's) with the zero point taken off
 * again, the row an int16 GEMM reads, without the byte tensor between. */
typedef void (*tq_quantize_s16_fn)(const float *x, size_t n, float scale, int zp, int16_t *q);

/* dst[i] = src[i * step] - zp as int16 (src int8 when is_signed, else
 * uint8); reads no byte past src[(n - 1) * step]. */
typedef void (*tq_qwiden_s16_fn)(int16_t *dst, const void *src, int n, int step, int zp,
                                 int is_signed);
/* 8-bit requantisation as ONNX Runtime does it in float: out[i] =
 * sat(rint((float)acc[i] * mult) + zp), rint = round half to even. */
typedef void (*tq_requant_fn)(const int32_t *acc, int n, float mult, int zp, int is_signed,
                              void *out);

/* Requantisation per output column (a MatMul's channels): y[m][n] =
 * sat(rint((float)(acc[m][n] + bias[n]) * mult[n]) + zp), acc rows of N
 * int32 back to back, y rows of N bytes (int8 when is_signed). */
typedef void (*tq_requant_cols_fn)(const int32_t *acc, int M, int N, const int32_t *bias,
                                   const float *mult, int zp, int is_signed, void *y);

/* qgemm with B given by row pointers: B row k is brows[k][0..N) (an
 * implicit-GEMM convolution points them into a padded input image). Columns
 * N..round_up(N, 16) of every row are read (not used): callers leave that
 * much readable memory after each row. */
typedef void (*tq_qgemm_ind_fn)(int M, int N, int K2, const int16_t *a, size_t lda,
                                const int16_t *const *brows, const int32_t *row_init,
                                int32_t *c, size_t ldc);

/* Channel-quad GEMM for u8 activations x s8 weights (zero weight zero
 * point): c[m][n] = row_init[m] + sum_q sum_j brows[q][4n + j] * w[m*4KQ +
 * 4q + j]. B rows are pixel-major with 4 channels per pixel, the layout
 * vpdpbusd multiplies directly (4 u8 x s8 products summed into int32 without
 * intermediate saturation: exact). Reads up to 16 pixels (64 bytes) past
 * each row's N. */
typedef void (*tq_qgemm_c4_fn)(int M, int N, int KQ, const int8_t *w, const uint8_t *const *brows,
                               const int32_t *row_init, int32_t *c, size_t ldc);

/* The same for s8 activations x s8 weights in [-127, 127] (no weight may be
 * -128): c[m][n] = row_init[m] + sum_q sum_j (int8)brows[q][4n + j] *
 * w[m*4KQ + 4q + j]. The AVX2 version (x86/qgemm_sign_avx2.c) uses the sign
 * trick (vpabsb / vpsignb, then vpmaddubsw: pair sums <= 2 * 128 * 127, no
 * saturation; vpmaddwd with ones to int32): exact, for CPUs without VNNI.
 * u8 activations become s8 by x ^ 0x80 (x - 128), the zero point moving by
 * -128 with them. Reads up to 16 pixels (64 bytes) past each row's N. */
typedef void (*tq_qgemm_c4s_fn)(int M, int N, int KQ, const int8_t *w, const int8_t *const *brows,
                                const int32_t *row_init, int32_t *c, size_t ldc);

/* qgemm_c4u: the qgemm_c4 contract (u8 activations x s8 weights, same
 * layout and result) restricted to weights for which tq_qgemm_c4u_fits()
 * holds, so the AVX2 version (x86/qgemm_u8s8_avx2.c) can use the plain
 * saturating vpmaddubsw exactly. Callers check the bound once, when packing
 * constant weights; with VNNI the table points it at qgemm_c4's kernel. */
typedef tq_qgemm_c4_fn tq_qgemm_c4u_fn;
/* Largest |w_a| + |w_b| of a vpmaddubsw weight pair whose products with any
 * u8 activations sum inside int16: 255 * 128 = 32640 <= 32767 < 255 * 129. */
#define TQ_C4U_PAIR_MAX 128
/* True when every weight quad w[4i..4i+3] (i < nquads) has |w0| + |w1| and
 * |w2| + |w3| <= TQ_C4U_PAIR_MAX (the qgemm_c4u precondition). */
int tq_qgemm_c4u_fits(const int8_t *w, size_t nquads);

/* A pairing schedule for qgemm_c4u_pairs, built once from constant weights.
 * vpmaddubsw leaves int16 pair sums; adding the pair sums of two quads in
 * int16 (vpaddw) before the one vpmaddwd that widens them saves a multiply
 * per two quads, and is exact when the two quads' int16 lane cannot leave
 * int16 for any u8 activations: for each row and each byte pair h (bytes
 * 2h, 2h+1), the positive weights of both quads sum to <= TQ_C4U_PAIR_MAX
 * (255 * 128 <= 32767) and so do the magnitudes of the negative ones
 * (vpaddw wraps, so only the final lane sum must fit). The sum is the same
 * in any quad order, so each block of 4 rows gets its own order: pairs
 * that fit for all 4 rows first, then single quads; quads whose 4 rows of
 * weights are all zero are left out. Full-range weights work too: a quad
 * with a pair over the bound becomes two steps on the same image row, w =
 * lo + hi with lo = floor(w / 2) and hi = w - lo (both in [-64, 64], so
 * every pair of each fits). When only one or two of the 4 rows are over
 * the bound (the usual case: a channel's largest weights), just those rows
 * are halved in the quad's step and their other halves become one-row
 * correction steps (a quarter of a 4-row step each). Rows past the last
 * full block of 4 use qgemm_c4u, so with M % 4 != 0 the weights must pass
 * tq_qgemm_c4u_fits. */
typedef struct tq_c4u_pairs {
    int M, KQ, blocks;   /* weights it was built from; blocks = M / 4 */
    int stride;          /* step capacity per block (2 KQ: every quad split) */
    int *npairs;         /* per block: pair steps (order[0 .. 2 npairs)) */
    int *nsingles;       /* per block: single steps after the pairs */
    uint32_t *order;     /* per block, stride entries: the image row (quad) of each step */
    int8_t *w;           /* per block, stride x 16 bytes: the 4 rows' weight quads of each step */
    int *ncorr;          /* per block, 4 counts: correction steps of rows 0..3 */
    uint32_t *corr_q;    /* per block, stride entries: their image rows, row 0's first */
    int8_t *corr_w;      /* per block, stride x 4 bytes: their one-row weight quads */
} tq_c4u_pairs;
/* Build the schedule of M x 4KQ weights w (qgemm_c4 layout). Returns 0, or
 * -1 when out of memory (p is then freed). */
int tq_c4u_pairs_build(tq_c4u_pairs *p, int M, int KQ, const int8_t *w);
void tq_c4u_pairs_free(tq_c4u_pairs *p);
/* qgemm_c4u's result through a schedule of w (the same weights, needed for
 * the rows past the last block of 4). */
typedef void (*tq_qgemm_c4u_pairs_fn)(const tq_c4u_pairs *p, const int8_t *w, int N,
                                      const uint8_t *const *brows, const int32_t *row_init,
                                      int32_t *c, size_t ldc);

/* dst[4i + j] = src[j][i] ^ flip for i < n, j < 4 (channel-quad images). */
typedef void (*tq_interleave4_fn)(uint8_t *dst, const uint8_t *const *src, int n, uint8_t flip);

/* dst[i] = src[i * step] for i < n (bytes); reads nothing past
 * src[(n - 1) * step]. */
typedef void (*tq_gather_u8_fn)(uint8_t *dst, const uint8_t *src, int n, int step);

/* One dequantised branch of a fused QDQ element-wise op: v = (float)(q - zp)
 * * scale, then (when has_affine) v = v * mul + add, each a separate float
 * rounding (DequantizeLinear, then a folded BatchNormalization). */
typedef struct tq_qbranch {
    int zp, is_signed, has_affine;
    float scale, mul, add;
} tq_qbranch;
/* out[i] = branch_a(a[i]) [+ branch_b(b[i])] for i < n (b may be NULL). */
typedef void (*tq_qadd2_fn)(float *out, const uint8_t *a, const tq_qbranch *ba,
                            const uint8_t *b, const tq_qbranch *bb, int n);

/* y[i] = QuantizeLinear(act(branch_a(a[i]) [+ branch_b(b[i])])) for i < n
 * (b may be NULL): the QEltwise island in one pass, with every float step
 * of tq_qadd2 / Relu or Clip (act->kind; NaN passes Clip, Relu makes it 0)
 * / tq_quantize_f32_c (rint(v / y_scale) + y_zp, saturated). */
typedef void (*tq_qelt2q_fn)(uint8_t *y, const uint8_t *a, const tq_qbranch *ba,
                             const uint8_t *b, const tq_qbranch *bb, int n, const tq_qact *act,
                             float y_scale, int y_zp, int y_signed);

/* even[i] = src[2i], odd[i] = src[2i + 1] for i < n (4-byte pixels: the
 * stride-2 column phases of a channel-quad image row). */
typedef void (*tq_deint2_u32_fn)(uint32_t *even, uint32_t *odd, const uint32_t *src, int n);

typedef struct tq_qdsp {
    tq_qgemm_fn qgemm;
    tq_quantize_fn quantize;
    tq_minmax_fn minmax;
    tq_dequant_rows_fn dequant_rows;
    tq_epilogue_rows_fn epilogue_rows;
    tq_epilogue_rows_mm_fn epilogue_rows_mm;
    tq_epilogue_cols_fn epilogue_cols;
    tq_qdw_taps_fn dw_taps;
    tq_qwiden_f32_fn widen_f32;
    tq_qwiden_s16_fn widen_s16;
    tq_requant_fn requant;
    tq_requant_cols_fn requant_cols;
    tq_quantize_s16_fn quantize_s16;
    tq_qgemm_ind_fn qgemm_ind;
    tq_qgemm_c4_fn qgemm_c4;
    tq_qgemm_c4s_fn qgemm_c4s;
    tq_interleave4_fn interleave4;
    tq_gather_u8_fn gather_u8;
    tq_qadd2_fn qadd2;
    tq_deint2_u32_fn deint2_u32;
    tq_qgemm_c4u_fn qgemm_c4u;
    /* NULL where qgemm_c4u is not chosen (C, VNNI tables) */
    tq_qgemm_c4u_pairs_fn qgemm_c4u_pairs;
    tq_qelt2q_fn qelt2q;
} tq_qdsp;

/* The table for the CPU features currently allowed (cheap: call per eval). */
const tq_qdsp *tq_qdsp_get(void);
/* The C reference table (for checkasm-style tests). */
const tq_qdsp *tq_qdsp_c(void);

/* --- C references (also the fallbacks) */
void tq_qgemm_s16_c(int M, int N, int K2, const int16_t *a, size_t lda, const int16_t *b,
                    size_t ldb, const int32_t *row_init, int32_t *c, size_t ldc);
void tq_quantize_f32_c(const float *x, size_t n, float scale, int zp, int is_signed, void *q);
void tq_minmax_f32_c(const float *x, size_t n, float *mn, float *mx);
void tq_dequant_rows_c(int32_t *c, int M, int N, size_t ld, const float *scale,
                       const float *bias);
void tq_epilogue_rows_c(int32_t *c, int M, int N, size_t ld, const float *scale,
                        const float *bias, const float *res, size_t res_ld, const tq_qact *act);
void tq_epilogue_cols_c(int32_t *c, int M, int N, size_t ld, const float *scale,
                        const float *bias, const tq_qact *act, float *mn, float *mx);
void tq_epilogue_rows_mm_c(int32_t *c, int M, int N, size_t ld, const float *scale,
                           const float *bias, const float *res, size_t res_ld, const tq_qact *act,
                           float *mn, float *mx);
void tq_qdw_taps_c(int32_t *out, int n, const float *const *src, const float *w, int ntaps,
                   int32_t init);
void tq_qwiden_f32_c(float *dst, const void *src, int n, int step, int zp, int is_signed);
void tq_qwiden_s16_c(int16_t *dst, const void *src, int n, int step, int zp, int is_signed);
void tq_requant_c(const int32_t *acc, int n, float mult, int zp, int is_signed, void *out);
void tq_quantize_s16_c(const float *x, size_t n, float scale, int zp, int16_t *q);
void tq_requant_cols_c(const int32_t *acc, int M, int N, const int32_t *bias, const float *mult,
                       int zp, int is_signed, void *y);
void tq_qgemm_ind_c(int M, int N, int K2, const int16_t *a, size_t lda,
                    const int16_t *const *brows, const int32_t *row_init, int32_t *c, size_t ldc);
void tq_interleave4_c(uint8_t *dst, const uint8_t *const *src, int n, uint8_t flip);
void tq_gather_u8_c(uint8_t *dst, const uint8_t *src, int n, int step);
void tq_deint2_u32_c(uint32_t *even, uint32_t *odd, const uint32_t *src, int n);
float tq_qbranch_value(const tq_qbranch *br, uint8_t byte);
void tq_qadd2_c(float *out, const uint8_t *a, const tq_qbranch *ba, const uint8_t *b,
                const tq_qbranch *bb, int n);
void tq_qelt2q_c(uint8_t *y, const uint8_t *a, const tq_qbranch *ba, const uint8_t *b,
                 const tq_qbranch *bb, int n, const tq_qact *act, float y_scale, int y_zp,
                 int y_signed);
void tq_qgemm_c4_c(int M, int N, int KQ, const int8_t *w, const uint8_t *const *brows,
                   const int32_t *row_init, int32_t *c, size_t ldc);
void tq_qgemm_c4s_c(int M, int N, int KQ, const int8_t *w, const int8_t *const *brows,
                    const int32_t *row_init, int32_t *c, size_t ldc);

#if defined(TQ_HAVE_AVX2)
void tq_qgemm_s16_avx2(int M, int N, int K2, const int16_t *a, size_t lda, const int16_t *b,
                       size_t ldb, const int32_t *row_init, int32_t *c, size_t ldc);
void tq_quantize_f32_avx2(const float *x, size_t n, float scale, int zp, int is_signed,
                          void *q);
void tq_minmax_f32_avx2(const float *x, size_t n, float *mn, float *mx);
void tq_dequant_rows_avx2(int32_t *c, int M, int N, size_t ld, const float *scale,
                          const float *bias);
void tq_epilogue_rows_avx2(int32_t *c, int M, int N, size_t ld, const float *scale,
                           const float *bias, const float *res, size_t res_ld,
                           const tq_qact *act);
void tq_epilogue_cols_avx2(int32_t *c, int M, int N, size_t ld, const float *scale,
                           const float *bias, const tq_qact *act, float *mn, float *mx);
void tq_epilogue_rows_mm_avx2(int32_t *c, int M, int N, size_t ld, const float *scale,
                              const float *bias, const float *res, size_t res_ld,
                              const tq_qact *act, float *mn, float *mx);
void tq_qdw_taps_avx2(int32_t *out, int n, const float *const *src, const float *w, int ntaps,
                      int32_t init);
void tq_qwiden_f32_avx2(float *dst, const void *src, int n, int step, int zp, int is_signed);
void tq_qwiden_s16_avx2(int16_t *dst, const void *src, int n, int step, int zp, int is_signed);
void tq_requant_avx2(const int32_t *acc, int n, float mult, int zp, int is_signed, void *out);
void tq_quantize_s16_avx2(const float *x, size_t n, float scale, int zp, int16_t *q);
void tq_requant_cols_avx2(const int32_t *acc, int M, int N, const int32_t *bias,
                          const float *mult, int zp, int is_signed, void *y);
void tq_interleave4_avx2(uint8_t *dst, const uint8_t *const *src, int n, uint8_t flip);
void tq_gather_u8_avx2(uint8_t *dst, const uint8_t *src, int n, int step);
void tq_deint2_u32_avx2(uint32_t *even, uint32_t *odd, const uint32_t *src, int n);
void tq_qadd2_avx2(float *out, const uint8_t *a, const tq_qbranch *ba, const uint8_t *b,
                   const tq_qbranch *bb, int n);
void tq_qelt2q_avx2(uint8_t *y, const uint8_t *a, const tq_qbranch *ba, const uint8_t *b,
                    const tq_qbranch *bb, int n, const tq_qact *act, float y_scale, int y_zp,
                    int y_signed);
void tq_qgemm_ind_avx2(int M, int N, int K2, const int16_t *a, size_t lda,
                       const int16_t *const *brows, const int32_t *row_init, int32_t *c,
                       size_t ldc);
void tq_qgemm_c4s_avx2(int M, int N, int KQ, const int8_t *w, const int8_t *const *brows,
                       const int32_t *row_init, int32_t *c, size_t ldc);
void tq_qgemm_c4u_avx2(int M, int N, int KQ, const int8_t *w, const uint8_t *const *brows,
                       const int32_t *row_init, int32_t *c, size_t ldc);
void tq_qgemm_c4u_pairs_avx2(const tq_c4u_pairs *p, const int8_t *w, int N,
                             const uint8_t *const *brows, const int32_t *row_init, int32_t *c,
                             size_t ldc);
void tq_qgemm_c4_vnni(int M, int N, int KQ, const int8_t *w, const uint8_t *const *brows,
                      const int32_t *row_init, int32_t *c, size_t ldc);
void tq_qgemm_ind_vnni(int M, int N, int K2, const int16_t *a, size_t lda,
                       const int16_t *const *brows, const int32_t *row_init, int32_t *c,
                       size_t ldc);
#endif

/* dst[i] = table[src[i]] for i < n (per-channel byte tables of the fused
 * QDQ element-wise ops). Picked separately from tq_qdsp: AVX512-VBMI when
 * tq_cpu_flags() has TQ_CPU_FLAG_AVX512VBMI, else C. */
typedef void (*tq_lut8_fn)(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *table);
tq_lut8_fn tq_lut8_get(void);
void tq_lut8_c(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *table);
#if defined(TQ_HAVE_AVX2)
void tq_lut8_vbmi(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *table);
#endif

/* --- packers (plain C: linear in the data, not the hot loop) */

/* K rounded up to even. */
static inline int tq_qgemm_k2(int K)
{
    return (K + 1) & ~1;
}
/* N rounded up to the column block. */
static inline size_t tq_qgemm_ldb(int N)
{
    return ((size_t)N + TQ_QGEMM_NB - 1) / TQ_QGEMM_NB * TQ_QGEMM_NB;
}
/* Widen a matrix of 8-bit values to int16 rows with zero points subtracted:
 * dst[m*lda + k] = src[m*src_rs + k*src_cs] - zp[m*zp_rs + k*zp_cs] for
 * k < K, and 0 for K <= k < lda. zp may be NULL (zero). is_signed: src and zp
 * hold int8 (else uint8). */
void tq_qpack_rows(int M, int K, const void *src, ptrdiff_t src_rs, ptrdiff_t src_cs,
                   int is_signed, const void *zp, ptrdiff_t zp_rs, ptrdiff_t zp_cs,
                   int16_t *dst, size_t lda);

#endif
