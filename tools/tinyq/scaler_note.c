/* Who applies a model's StandardScaler (SPEC §3): the same decision the
 * registry loader makes (tq_scaler_decide), shown by `tinyq inspect`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/registry_internal.h"
#include "scaler_note.h"

/* X.onnx / X.int8.onnx -> X.json (the loader's sidecar for either file). */
static char *sidecar_path(const char *model_path)
{
    size_t n = strlen(model_path);
    if (n >= 5 && strcmp(model_path + n - 5, ".onnx") == 0)
        n -= 5;
    if (n >= 5 && strncmp(model_path + n - 5, ".int8", 5) == 0)
        n -= 5;
    char *p = malloc(n + 6);
    if (p) {
        memcpy(p, model_path, n);
        strcpy(p + n, ".json");
    }
    return p;
}

/* The first graph input that is not an initializer (the feature input). */
static const tq_value_info *first_input(const tq_model *m)
{
    for (int i = 0; i < m->graph.n_inputs; i++)
        if (!tq_graph_find_initializer(&m->graph, m->graph.inputs[i].name))
            return &m->graph.inputs[i];
    return NULL;
}

int scaler_note_make(const tq_model *m, const char *model_path, scaler_note *out)
{
    memset(out, 0, sizeof *out);
    out->sidecar = sidecar_path(model_path);
    if (!out->sidecar)
        return -1;
    tq_sidecar sc = {0};
    tq_error err = {0};
    if (access(out->sidecar, F_OK) == 0) {
        if (tq_sidecar_load(out->sidecar, &sc, &err))
            snprintf(out->problem, sizeof out->problem, "%s", err.msg);
        else
            out->have_sidecar = 1, out->sidecar_scaler = sc.n_scaler;
    }
    const tq_value_info *in = first_input(m);
    /* The loader scales feature vectors only ([batch, F]); image models never. */
    const tq_sidecar *use = out->have_sidecar && in && in->rank == 2 ? &sc : NULL;
    out->site = TQ_SCALER_NONE;
    if (in && !out->problem[0] &&
        tq_scaler_decide(m, in->name, use, model_path, &out->site, &err))
        snprintf(out->problem, sizeof out->problem, "%s", err.msg);
    tq_sidecar_free(&sc);
    return 0;
}

void scaler_note_free(scaler_note *n)
{
    free(n->sidecar);
    n->sidecar = NULL;
}

const char *scaler_note_key(const scaler_note *n)
{
    if (n->problem[0])
        return "error";
    return n->site == TQ_SCALER_LOADER ? "loader" : n->site == TQ_SCALER_GRAPH ? "graph" : "none";
}

void scaler_note_text(const scaler_note *n, char *buf, size_t cap)
{
    if (n->problem[0])
        snprintf(buf, cap, "cannot tell: %s", n->problem);
    else if (n->site == TQ_SCALER_LOADER)
        snprintf(buf, cap, "the registry loader applies the StandardScaler of %s "
                 "((x - mean) / std over %d features; `tinyq run` does not)",
                 n->sidecar, n->sidecar_scaler);
    else if (n->site == TQ_SCALER_GRAPH && n->sidecar_scaler)
        snprintf(buf, cap, "baked into the graph (input -> Sub -> Div); it matches %s, whose "
                 "scaler the loader does not apply again", n->sidecar);
    else if (n->site == TQ_SCALER_GRAPH)
        snprintf(buf, cap, "baked into the graph (input -> Sub -> Div)%s%s",
                 n->have_sidecar ? "; no scaler in " : "; no sidecar ",
                 n->sidecar);
    else
        snprintf(buf, cap, "none (%s%s; no Sub/Div scaler in the graph)",
                 n->have_sidecar ? "no StandardScaler in " : "no sidecar ", n->sidecar);
}
