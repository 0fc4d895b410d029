/* The deterministic synthetic input set (SPEC §4). */
#include "runtime/synthetic.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int tq_model_runtime_inputs(const tq_model *m, const tq_value_info **infos, int max)
{
    int n = 0;
    for (int i = 0; i < m->graph.n_inputs; i++) {
        const tq_value_info *v = &m->graph.inputs[i];
        if (tq_graph_find_initializer(&m->graph, v->name))
            continue;
        if (n < max)
            infos[n] = v;
        n++;
    }
    return n;
}

int tq_synthetic_sample(const tq_model *m, tq_pcg64 *rng, tq_tensor *out, int max, int *n,
                        tq_error *err)
{
    const char *path = m->path ? m->path : "model";
    const tq_value_info *infos[16];
    int count = tq_model_runtime_inputs(m, infos, 16);
    if (count > max || count > 16)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: too many inputs (%d)", path, count);
    for (int i = 0; i < count; i++)
        memset(&out[i], 0, sizeof out[i]);
    for (int i = 0; i < count; i++) {
        const tq_value_info *v = infos[i];
        if (v->dtype != TQ_FLOAT) {
            for (int k = 0; k < i; k++)
                tq_tensor_clear(&out[k]);
            return tq_fail(err, TQ_EUNSUPPORTED,
                           "%s: input '%s' is %s; the synthetic set draws float32 only (give "
                           "inputs with -i)",
                           path, v->name, tq_dtype_name(v->dtype));
        }
        tq_tensor *t = &out[i];
        t->name = strdup(v->name);
        t->dtype = TQ_FLOAT;
        t->rank = v->rank < 0 ? 0 : v->rank;
        for (int d = 0; d < t->rank; d++)
            t->dims[d] = v->dims[d] >= 0 ? v->dims[d] : 1;
        int64_t numel = tq_tensor_numel(t);
        t->nbytes = numel > 0 ? (size_t)numel * sizeof(float) : 0;
        t->data = malloc(t->nbytes ? t->nbytes : 1);
        if (!t->name || !t->data || numel < 0) {
            for (int k = 0; k <= i; k++)
                tq_tensor_clear(&out[k]);
            return tq_fail(err, TQ_ENOMEM, "%s: cannot allocate input '%s'", path, v->name);
        }
        float *f = t->data;
        for (int64_t k = 0; k < numel; k++)
            f[k] = tq_pcg64_random_float(rng);
    }
    *n = count;
    return TQ_OK;
}
