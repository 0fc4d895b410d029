/* A small fully connected regressor (Gemm + ReLU ... Gemm -> one output)
 * trained in double precision: forward, backward (MSE), Adam, mini-batches.
 * Everything is single-threaded and draws its randomness from one PCG64
 * stream, so a given seed gives bit-identical weights on every run. */
#ifndef TQ_TRAIN_MLP_H
#define TQ_TRAIN_MLP_H

#include <stddef.h>
#include <stdint.h>

#define TQ_MLP_MAX_LAYERS 8

typedef struct tq_mlp {
    int n_layers;                  /* Gemm layers (hidden layers + the output layer) */
    int width[TQ_MLP_MAX_LAYERS + 1]; /* width[0] = inputs, width[n_layers] = 1 */
    double *w[TQ_MLP_MAX_LAYERS];  /* [width[l+1], width[l]] row-major (ONNX Gemm transB=1) */
    double *b[TQ_MLP_MAX_LAYERS];  /* [width[l+1]] */
    double *params;                /* one block holding every w and b, n_params long */
    size_t n_params;
} tq_mlp;

/* Allocate an MLP of inputs -> hidden[0] -> ... -> 1 with He-uniform weights
 * (bound sqrt(6 / fan_in): ReLU halves the variance) and zero biases.
 * Returns 0, or -1 on bad sizes / allocation failure. */
int tq_mlp_init(tq_mlp *m, int inputs, const int *hidden, int n_hidden, uint64_t seed);
void tq_mlp_free(tq_mlp *m);

/* Predictions for n rows of x ([n, width[0]] row-major) into out[n]. */
int tq_mlp_predict(const tq_mlp *m, const double *x, size_t n, double *out);

/* Mean squared error over n rows and its gradient with respect to every
 * parameter (grad: n_params long, same layout as m->params). */
int tq_mlp_loss_grad(const tq_mlp *m, const double *x, const double *y, size_t n, double *loss,
                     double *grad);

typedef struct tq_mlp_fit_settings {
    int epochs;
    int batch_size;
    double lr;            /* Adam step size */
    double weight_decay;  /* L2 penalty added to the gradient (0 = none) */
    uint64_t seed;        /* mini-batch order */
} tq_mlp_fit_settings;

/* Adam (beta1 0.9, beta2 0.999, eps 1e-8) on MSE over shuffled mini-batches;
 * the row order of each epoch is a PCG64 permutation. *final_loss (may be
 * NULL) receives the training MSE after the last epoch. */
int tq_mlp_fit(tq_mlp *m, const double *x, const double *y, size_t n,
               const tq_mlp_fit_settings *s, double *final_loss);

#endif
