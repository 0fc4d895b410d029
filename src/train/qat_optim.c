/* Adam and SGD-with-momentum updates for QAT fine-tuning (qat_optim.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/qat_optim.h"

int tq_optim_init(tq_optim *o, tq_optim_kind kind, double lr, int n, float *const *param,
                  float *const *grad, const int64_t *numel)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->momentum = 0.9;
    o->n = n;
    size_t sz = (size_t)(n > 0 ? n : 1);
    o->param = calloc(sz, sizeof(float *));
    o->grad = calloc(sz, sizeof(float *));
    o->numel = calloc(sz, sizeof(int64_t));
    o->m = calloc(sz, sizeof(float *));
    o->v = calloc(sz, sizeof(float *));
    if (!o->param || !o->grad || !o->numel || !o->m || !o->v) {
        tq_optim_free(o);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        o->param[i] = param[i];
        o->grad[i] = grad[i];
        o->numel[i] = numel[i];
        size_t cnt = (size_t)(numel[i] > 0 ? numel[i] : 1);
        o->m[i] = calloc(cnt, sizeof(float));
        o->v[i] = kind == TQ_OPTIM_ADAM ? calloc(cnt, sizeof(float)) : NULL;
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
    double bc1 = 1.0 - pow(o->beta1, (double)o->step);
    double bc2 = 1.0 - pow(o->beta2, (double)o->step);
    for (int i = 0; i < o->n; i++) {
        float *p = o->param[i], *g = o->grad[i], *m = o->m[i], *v = o->v[i];
        for (int64_t k = 0; k < o->numel[i]; k++) {
            double gk = (double)g[k];
            if (o->kind == TQ_OPTIM_ADAM) {
                m[k] = (float)(o->beta1 * m[k] + (1.0 - o->beta1) * gk);
                v[k] = (float)(o->beta2 * v[k] + (1.0 - o->beta2) * gk * gk);
                double mh = m[k] / bc1, vh = v[k] / bc2;
                p[k] = (float)(p[k] - o->lr * mh / (sqrt(vh) + o->eps));
            } else {
                m[k] = (float)(o->momentum * m[k] + gk);
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
