/* Adam and SGD-with-momentum updates for QAT fine-tuning (qat_optim.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/adam.h"
#include "train/qat_optim.h"

int tq_optim_init(tq_optim *o, tq_optim_kind kind, double lr, int n, float *const *param,
                  float *const *grad, const int64_t *numel)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->lr = lr;
    o->momentum = 0.9;
    o->n = n;
    size_t sz = (size_t)(n > 0 ? n : 1);
    o->param = calloc(sz, sizeof(float *));
    o->grad = calloc(sz, sizeof(float *));
    o->numel = calloc(sz, sizeof(int64_t));
    o->m = calloc(sz, sizeof(double *));
    o->v = calloc(sz, sizeof(double *));
    if (!o->param || !o->grad || !o->numel || !o->m || !o->v) {
        tq_optim_free(o);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        o->param[i] = param[i];
        o->grad[i] = grad[i];
        o->numel[i] = numel[i];
        size_t cnt = (size_t)(numel[i] > 0 ? numel[i] : 1);
        o->m[i] = calloc(cnt, sizeof(double));
        o->v[i] = kind == TQ_OPTIM_ADAM ? calloc(cnt, sizeof(double)) : NULL;
        if (!o->m[i] || (kind == TQ_OPTIM_ADAM && !o->v[i])) {
            tq_optim_free(o);
            return -1;
        }
    }
    return 0;
}

void tq_optim_step(tq_optim *o)
{
    o->step++;
    double bc1 = 1.0 - pow(TQ_ADAM_BETA1, (double)o->step);
    double bc2 = 1.0 - pow(TQ_ADAM_BETA2, (double)o->step);
    for (int i = 0; i < o->n; i++) {
        float *p = o->param[i], *g = o->grad[i];
        double *m = o->m[i], *v = o->v[i];
        for (int64_t k = 0; k < o->numel[i]; k++) {
            double gk = (double)g[k];
            if (o->kind == TQ_OPTIM_ADAM) {
                p[k] = (float)(p[k] - tq_adam_delta(&m[k], &v[k], gk, o->lr, bc1, bc2));
            } else {
                m[k] = o->momentum * m[k] + gk;
                p[k] = (float)(p[k] - o->lr * m[k]);
            }
        }
    }
}

void tq_optim_free(tq_optim *o)
{
    for (int i = 0; i < o->n; i++) {
        if (o->m)
            free(o->m[i]);
        if (o->v)
            free(o->v[i]);
    }
    free(o->param);
    free(o->grad);
    free(o->numel);
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof(*o));
}
