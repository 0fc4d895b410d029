/* The Adam update (Kingma & Ba, with bias correction), shared by the FR
 * trainer (double parameters) and QAT fine-tuning (float parameters): one
 * formula, one place. Moments are kept in double in both. */
#ifndef TQ_TRAIN_ADAM_H
#define TQ_TRAIN_ADAM_H

#include <math.h>

#define TQ_ADAM_BETA1 0.9
#define TQ_ADAM_BETA2 0.999
#define TQ_ADAM_EPS 1e-8

/* Update the moments m, v with gradient g and return the step to subtract
 * from the parameter. bc1 = 1 - beta1^t and bc2 = 1 - beta2^t for step t. */
static inline double tq_adam_delta(double *m, double *v, double g, double lr, double bc1,
                                   double bc2)
{
    *m = TQ_ADAM_BETA1 * *m + (1.0 - TQ_ADAM_BETA1) * g;
    *v = TQ_ADAM_BETA2 * *v + (1.0 - TQ_ADAM_BETA2) * g * g;
    return lr * (*m / bc1) / (sqrt(*v / bc2) + TQ_ADAM_EPS);
}

#endif
