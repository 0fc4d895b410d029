/* Forward and backward math of the ops QAT fine-tuning differentiates
 * (Conv 2-D, Gemm, MatMul, broadcasting Add/Sub/Mul/Div, Relu, Clip,
 * GlobalAveragePool, Concat, fake quantisation, losses). No graph knowledge.
 *
 * Every kernel exists twice, from one source (autograd_kernels.inc): the
 * float version (suffix _f, matrix products through the fp32 sgemm kernels)
 * that training runs, and a double version (suffix _d, plain loops) that the
 * tests check against finite differences. Backward kernels ACCUMULATE into
 * the gradients they are given (a value may feed several nodes); a NULL
 * gradient pointer means "not needed". */
#ifndef TQ_TRAIN_AUTOGRAD_KERNELS_H
#define TQ_TRAIN_AUTOGRAD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define TQ_AGK_MAX_RANK 8

/* Conv 2-D geometry: x [n, c, h, w], w [m, c/group, kh, kw], y [n, m, oh, ow]. */
typedef struct tq_agk_conv {
    int64_t n, c, h, w, m, kh, kw, oh, ow, group;
    int64_t pad_t, pad_l, sh, sw, dh, dw;
} tq_agk_conv;

/* Broadcast plan of a binary elementwise op: output dims and, per output
 * axis, the element stride of each input (0 where that input broadcasts). */
typedef struct tq_agk_bcast {
    int rank;
    int64_t dims[TQ_AGK_MAX_RANK];
    int64_t sa[TQ_AGK_MAX_RANK], sb[TQ_AGK_MAX_RANK];
    int64_t numel;
} tq_agk_bcast;

typedef enum tq_agk_binop { TQ_AGK_ADD, TQ_AGK_SUB, TQ_AGK_MUL, TQ_AGK_DIV } tq_agk_binop;

/* Numpy broadcasting of two shapes; returns -1 when they do not broadcast. */
int tq_agk_bcast_plan(tq_agk_bcast *p, const int64_t *da, int ra, const int64_t *db, int rb);

/* Scratch floats/doubles conv needs: one im2col buffer (c/group*kh*kw x oh*ow). */
int64_t tq_agk_conv_col_size(const tq_agk_conv *g);

#define TQ_AGK_DECLARE(REAL, S)                                                                  \
    /* C[M,N] = alpha * op(A) op(B) (+ C when acc); A stored [M,K] or [K,M] (ta),        */   \
    /* B stored [K,N] or [N,K] (tb), all densely packed.                                 */   \
    void tq_agk_gemm##S(int ta, int tb, int64_t M, int64_t N, int64_t K, REAL alpha,             \
                        const REAL *A, const REAL *B, REAL *C, int acc);                          \
    void tq_agk_conv_fwd##S(const tq_agk_conv *g, const REAL *x, const REAL *w, const REAL *b,   \
                            REAL *y, REAL *col);                                                 \
    void tq_agk_conv_bwd##S(const tq_agk_conv *g, const REAL *x, const REAL *w, const REAL *dy,  \
                            REAL *dx, REAL *dw, REAL *db, REAL *col);                            \
    /* ONNX Gemm: Y = alpha op(A) op(B) + beta C, C broadcast from [cm, cn] (1 = bcast). */    \
    void tq_agk_gemm_op_fwd##S(int ta, int tb, int64_t M, int64_t N, int64_t K, REAL alpha,      \
                               REAL beta, const REAL *A, const REAL *B, const REAL *C,           \
                               int64_t cm, int64_t cn, REAL *Y);                                 \
    void tq_agk_gemm_op_bwd##S(int ta, int tb, int64_t M, int64_t N, int64_t K, REAL alpha,      \
                               REAL beta, const REAL *A, const REAL *B, int64_t cm, int64_t cn,  \
                               const REAL *dY, REAL *dA, REAL *dB, REAL *dC);                    \
    void tq_agk_binary_fwd##S(tq_agk_binop op, const tq_agk_bcast *p, const REAL *a,             \
                              const REAL *b, REAL *y);                                           \
    void tq_agk_binary_bwd##S(tq_agk_binop op, const tq_agk_bcast *p, const REAL *a,             \
                              const REAL *b, const REAL *dy, REAL *da, REAL *db);                \
    void tq_agk_relu_fwd##S(int64_t n, const REAL *x, REAL *y);                                  \
    void tq_agk_relu_bwd##S(int64_t n, const REAL *x, const REAL *dy, REAL *dx);                 \
    /* Clip (ONNX): y = min(max(x, lo), hi); gradient where lo <= x <= hi. */                 \
    void tq_agk_clip_fwd##S(int64_t n, const REAL *x, REAL lo, REAL hi, REAL *y);                \
    void tq_agk_clip_bwd##S(int64_t n, const REAL *x, REAL lo, REAL hi, const REAL *dy,          \
                            REAL *dx);                                                           \
    void tq_agk_gap_fwd##S(int64_t nc, int64_t hw, const REAL *x, REAL *y);                      \
    void tq_agk_gap_bwd##S(int64_t nc, int64_t hw, const REAL *dy, REAL *dx);                    \
    /* Concat of k inputs along an axis: outer = product of dims before it, */                 \
    /* inner[i] = input i's (axis dim * product of dims after it).          */                 \
    void tq_agk_concat_fwd##S(int k, int64_t outer, const int64_t *inner, const REAL *const *x,  \
                              REAL *y);                                                          \
    void tq_agk_concat_bwd##S(int k, int64_t outer, const int64_t *inner, const REAL *dy,        \
                              REAL *const *dx);                                                  \
    /* Fake quantisation, straight-through: y = (clamp(rint(x/s) + zp) - zp) * s per  */       \
    /* channel (x viewed as [outer, ch, inner]; ch = 1 for per tensor); the gradient  */       \
    /* passes where the unclamped level is inside [qmin, qmax] and is 0 outside.      */       \
    void tq_agk_fakeq_fwd##S(int64_t outer, int64_t ch, int64_t inner, const REAL *x,            \
                             const REAL *scale, const REAL *zp, REAL qmin, REAL qmax, REAL *y);  \
    void tq_agk_fakeq_bwd##S(int64_t outer, int64_t ch, int64_t inner, const REAL *x,            \
                             const REAL *scale, const REAL *zp, REAL qmin, REAL qmax,            \
                             const REAL *dy, REAL *dx);                                          \
    /* Mean squared error over n values; writes dy = dLoss/dy (not accumulated). */            \
    double tq_agk_mse##S(int64_t n, const REAL *y, const REAL *t, REAL *dy);                     \
    /* The same with the error's mean removed first (blind to a constant offset, */          \
    /* as PLCC is): mean((e - mean(e))^2), e = y - t.                           */          \
    double tq_agk_mse_centered##S(int64_t n, const REAL *y, const REAL *t, REAL *dy);           \
    /* Mean softmax cross-entropy of rows [b, k] against class indices. */                     \
    double tq_agk_xent##S(int64_t b, int64_t k, const REAL *logits, const int64_t *label,        \
                          REAL *dy);

TQ_AGK_DECLARE(float, _f)
TQ_AGK_DECLARE(double, _d)

#endif
