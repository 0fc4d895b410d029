/* Instantiates the autograd kernels (autograd_kernels.inc) for float and
 * double, and provides the one piece that differs: the matrix product. The
 * float product runs on the fp32 sgemm kernels (src/kernels/sgemm.h), the
 * double one is a plain loop used only by the gradient checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sgemm.h"
#include "train/autograd_kernels.h"

int tq_agk_bcast_plan(tq_agk_bcast *p, const int64_t *da, int ra, const int64_t *db, int rb)
{
    memset(p, 0, sizeof(*p));
    int r = ra > rb ? ra : rb;
    if (r > TQ_AGK_MAX_RANK)
        return -1;
    p->rank = r;
    p->numel = 1;
    int64_t stride_a = 1, stride_b = 1;
    for (int d = r - 1; d >= 0; d--) {
        int ia = d - (r - ra), ib = d - (r - rb);
        int64_t a = ia >= 0 ? da[ia] : 1, b = ib >= 0 ? db[ib] : 1;
        if (a != b && a != 1 && b != 1)
            return -1;
        int64_t o = a > b ? a : b;
        if (a == 0 || b == 0)
            o = 0;
        p->dims[d] = o;
        p->sa[d] = a == 1 ? 0 : stride_a;
        p->sb[d] = b == 1 ? 0 : stride_b;
        stride_a *= a;
        stride_b *= b;
        p->numel *= o;
    }
    return 0;
}

int64_t tq_agk_conv_col_size(const tq_agk_conv *g)
{
    return g->c / g->group * g->kh * g->kw * g->oh * g->ow;
}

void tq_agk_gemm_d(int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha, const double *A,
                   const double *B, double *C, int acc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
            C[i * N + j] = alpha * s + (acc ? C[i * N + j] : 0.0);
        }
}

static void gemm_plain_f(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, const float *B, float *C, int acc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
            C[i * N + j] = alpha * s + (acc ? C[i * N + j] : 0.0f);
        }
}

/* sgemm wants A row-major [M,K] and B as [K,N] rows or packed panels: a
 * transposed A is copied transposed, a transposed B is packed with swapped
 * strides (packing is the copy sgemm would want anyway). */
void tq_agk_gemm_f(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   const float *B, float *C, int acc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        if (!acc)
            memset(C, 0, (size_t)(M * N) * sizeof(float));
        return;
    }
    float *at = ta ? malloc((size_t)(M * K) * sizeof(float)) : NULL;
    float *bp = tb ? malloc(tq_sgemm_packed_b_floats(K, N) * sizeof(float)) : NULL;
    if ((ta && !at) || (tb && !bp)) { /* out of memory: the slow path needs none */
        free(at);
        free(bp);
        gemm_plain_f(ta, tb, M, N, K, alpha, A, B, C, acc);
        return;
    }
    const float *a = A;
    if (ta) {
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < M; i++)
                at[i * K + k] = A[k * M + i];
        a = at;
    }
    tq_sgemm_post post = {.alpha = alpha, .accumulate = acc != 0};
    const tq_sgemm_dsp *dsp = tq_sgemm_dsp_get();
    if (tb) {
        tq_sgemm_pack_b(B, 1, (ptrdiff_t)K, K, N, bp);
        tq_sgemm(dsp, M, N, K, a, (ptrdiff_t)K, bp, 0, true, C, (ptrdiff_t)N, &post);
    } else {
        tq_sgemm(dsp, M, N, K, a, (ptrdiff_t)K, B, (ptrdiff_t)N, false, C, (ptrdiff_t)N, &post);
    }
    free(at);
    free(bp);
}

#define REAL float
#define FN(x) x##_f
#define RINT rintf
#include "train/autograd_kernels.inc"
#undef REAL
#undef FN
#undef RINT

#define REAL double
#define FN(x) x##_d
#define RINT rint
#include "train/autograd_kernels.inc"
#undef REAL
#undef FN
#undef RINT
