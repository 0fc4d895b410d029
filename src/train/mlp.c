/* The trainer's MLP: Gemm layers with ReLU between them, one linear output.
 * Double precision throughout so training is reproducible and the gradient
 * check against finite differences is meaningful; the exporter rounds the
 * weights to float32 once at the end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/mlp.h"
#include "train/adam.h"
#include "util/pcg64.h"

int tq_mlp_init(tq_mlp *m, int inputs, const int *hidden, int n_hidden, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    if (inputs <= 0 || n_hidden < 0 || n_hidden + 1 > TQ_MLP_MAX_LAYERS)
        return -1;
    m->n_layers = n_hidden + 1;
    m->width[0] = inputs;
    for (int l = 0; l < n_hidden; l++) {
        if (hidden[l] <= 0 || hidden[l] > 4096)
            return -1;
        m->width[l + 1] = hidden[l];
    }
    m->width[m->n_layers] = 1;
    size_t total = 0;
    for (int l = 0; l < m->n_layers; l++)
        total += (size_t)m->width[l + 1] * (size_t)m->width[l] + (size_t)m->width[l + 1];
    m->params = calloc(total, sizeof *m->params);
    if (!m->params)
        return -1;
    m->n_params = total;
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, seed);
    double *p = m->params;
    for (int l = 0; l < m->n_layers; l++) {
        size_t nw = (size_t)m->width[l + 1] * (size_t)m->width[l];
        m->w[l] = p;
        m->b[l] = p + nw;
        double bound = sqrt(6.0 / m->width[l]);
        for (size_t k = 0; k < nw; k++)
            m->w[l][k] = (2.0 * tq_pcg64_random_double(&rng) - 1.0) * bound;
        p += nw + (size_t)m->width[l + 1];
    }
    return 0;
}

void tq_mlp_free(tq_mlp *m)
{
    free(m->params);
    memset(m, 0, sizeof *m);
}

/* out[r, o] = b[o] + sum_i in[r, i] * w[o, i], then ReLU unless last. */
static void layer_forward(const tq_mlp *m, int l, const double *in, size_t n, double *out)
{
    int ni = m->width[l], no = m->width[l + 1];
    int relu = l + 1 < m->n_layers;
    for (size_t r = 0; r < n; r++) {
        const double *x = in + r * (size_t)ni;
        double *y = out + r * (size_t)no;
        for (int o = 0; o < no; o++) {
            const double *w = m->w[l] + (size_t)o * (size_t)ni;
            double s = m->b[l][o];
            for (int i = 0; i < ni; i++)
                s += w[i] * x[i];
            y[o] = relu && s < 0.0 ? 0.0 : s;
        }
    }
}

/* Activations of every layer for n rows: acts[0] = x (borrowed), acts[l] for
 * l >= 1 malloc'ed. Returns 0 or -1. */
static int forward_all(const tq_mlp *m, const double *x, size_t n, double **acts)
{
    acts[0] = (double *)x;
    for (int l = 0; l < m->n_layers; l++) {
        acts[l + 1] = malloc((n ? n : 1) * (size_t)m->width[l + 1] * sizeof(double));
        if (!acts[l + 1])
            return -1;
        layer_forward(m, l, acts[l], n, acts[l + 1]);
    }
    return 0;
}

static void free_acts(const tq_mlp *m, double **acts)
{
    for (int l = 1; l <= m->n_layers; l++)
        free(acts[l]);
}

int tq_mlp_predict(const tq_mlp *m, const double *x, size_t n, double *out)
{
    double *acts[TQ_MLP_MAX_LAYERS + 1] = {0};
    int rc = forward_all(m, x, n, acts);
    if (!rc)
        memcpy(out, acts[m->n_layers], n * sizeof *out);
    free_acts(m, acts);
    return rc;
}

int tq_mlp_loss_grad(const tq_mlp *m, const double *x, const double *y, size_t n, double *loss,
                     double *grad)
{
    double *acts[TQ_MLP_MAX_LAYERS + 1] = {0};
    int maxw = 1;
    for (int l = 0; l <= m->n_layers; l++)
        maxw = m->width[l] > maxw ? m->width[l] : maxw;
    double *delta = malloc((n ? n : 1) * (size_t)maxw * sizeof *delta);
    double *prev = malloc((n ? n : 1) * (size_t)maxw * sizeof *prev);
    int rc = (!delta || !prev || n == 0) ? -1 : forward_all(m, x, n, acts);
    if (rc) {
        free(delta);
        free(prev);
        free_acts(m, acts);
        return -1;
    }
    /* dL/dyhat of L = mean((yhat - y)^2) */
    const double *yhat = acts[m->n_layers];
    double sum = 0.0;
    for (size_t r = 0; r < n; r++) {
        double e = yhat[r] - y[r];
        sum += e * e;
        delta[r] = 2.0 * e / (double)n;
    }
    *loss = sum / (double)n;
    memset(grad, 0, m->n_params * sizeof *grad);
    for (int l = m->n_layers - 1; l >= 0; l--) {
        int ni = m->width[l], no = m->width[l + 1];
        double *gw = grad + (m->w[l] - m->params);
        double *gb = grad + (m->b[l] - m->params);
        const double *a = acts[l];
        for (size_t r = 0; r < n; r++) {
            const double *d = delta + r * (size_t)no;
            const double *ar = a + r * (size_t)ni;
            for (int o = 0; o < no; o++) {
                gb[o] += d[o];
                double *g = gw + (size_t)o * (size_t)ni;
                for (int i = 0; i < ni; i++)
                    g[i] += d[o] * ar[i];
            }
        }
        if (l == 0)
            break;
        /* delta of the layer below, through W and the ReLU (a > 0 <=> z > 0) */
        for (size_t r = 0; r < n; r++) {
            const double *d = delta + r * (size_t)no;
            const double *ar = a + r * (size_t)ni;
            double *p = prev + r * (size_t)ni;
            for (int i = 0; i < ni; i++) {
                double s = 0.0;
                if (ar[i] > 0.0)
                    for (int o = 0; o < no; o++)
                        s += d[o] * m->w[l][(size_t)o * (size_t)ni + i];
                p[i] = s;
            }
        }
        double *t = delta;
        delta = prev;
        prev = t;
    }
    free(delta);
    free(prev);
    free_acts(m, acts);
    return 0;
}

int tq_mlp_fit(tq_mlp *m, const double *x, const double *y, size_t n,
               const tq_mlp_fit_settings *s, double *final_loss)
{
    if (n == 0 || s->epochs < 0 || s->batch_size <= 0)
        return -1;
    size_t np = m->n_params, bs = (size_t)s->batch_size;
    int in = m->width[0];
    double *grad = malloc(np * sizeof *grad);
    double *mom = calloc(np, sizeof *mom), *var = calloc(np, sizeof *var);
    double *bx = malloc(bs * (size_t)in * sizeof *bx), *by = malloc(bs * sizeof *by);
    int64_t *order = malloc(n * sizeof *order);
    int rc = (!grad || !mom || !var || !bx || !by || !order) ? -1 : 0;
    tq_pcg64 rng;
    tq_pcg64_seed(&rng, s->seed);
    double b1t = 1.0, b2t = 1.0, loss = 0.0;
    for (int e = 0; !rc && e < s->epochs; e++) {
        tq_pcg64_permutation(&rng, order, n);
        for (size_t start = 0; !rc && start < n; start += bs) {
            size_t k = n - start < bs ? n - start : bs;
            for (size_t r = 0; r < k; r++) {
                size_t src = (size_t)order[start + r];
                memcpy(bx + r * (size_t)in, x + src * (size_t)in, (size_t)in * sizeof *bx);
                by[r] = y[src];
            }
            if (tq_mlp_loss_grad(m, bx, by, k, &loss, grad)) {
                rc = -1;
                break;
            }
            b1t *= TQ_ADAM_BETA1;
            b2t *= TQ_ADAM_BETA2;
            for (size_t p = 0; p < np; p++) {
                double g = grad[p] + s->weight_decay * m->params[p];
                m->params[p] -= tq_adam_delta(&mom[p], &var[p], g, s->lr, 1.0 - b1t, 1.0 - b2t);
            }
        }
    }
    if (!rc && final_loss) {
        double *pred = malloc(n * sizeof *pred);
        if (!pred || tq_mlp_predict(m, x, n, pred)) {
            rc = -1;
        } else {
            double sum = 0.0;
            for (size_t r = 0; r < n; r++)
                sum += (pred[r] - y[r]) * (pred[r] - y[r]);
            *final_loss = sum / (double)n;
        }
        free(pred);
    }
    free(grad);
    free(mom);
    free(var);
    free(bx);
    free(by);
    free(order);
    return rc;
}
