/* The optimiser QAT fine-tuning uses: Adam (Kingma & Ba, with bias
 * correction) or SGD with momentum, over a list of float parameter buffers.
 * Deterministic: plain loops, no threads. The Adam formula is train/adam.h,
 * shared with the FR trainer. */
#ifndef TQ_TRAIN_QAT_OPTIM_H
#define TQ_TRAIN_QAT_OPTIM_H

#include <stdint.h>

typedef enum tq_optim_kind { TQ_OPTIM_ADAM = 0, TQ_OPTIM_SGD = 1 } tq_optim_kind;

typedef struct tq_optim {
    tq_optim_kind kind;
    double lr, momentum;
    int64_t step;
    int n;
    float **param, **grad;
    int64_t *numel;
    double **m, **v; /* Adam moments / SGD velocity (m) */
} tq_optim;

/* Register n parameter buffers (borrowed; they must outlive the optimiser). */
int tq_optim_init(tq_optim *o, tq_optim_kind kind, double lr, int n, float *const *param,
                  float *const *grad, const int64_t *numel);
/* One update from the current gradients. */
void tq_optim_step(tq_optim *o);
void tq_optim_free(tq_optim *o);

#endif
