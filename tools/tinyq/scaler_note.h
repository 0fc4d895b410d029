/* Who applies a model's StandardScaler, for `tinyq inspect`: the registry
 * loader (sidecar scaler), the graph itself (baked Sub/Div), or nobody. */
#ifndef TQ_TOOLS_SCALER_NOTE_H
#define TQ_TOOLS_SCALER_NOTE_H

#include "graph/ir.h"
#include "tinyq/registry.h"

typedef struct scaler_note {
    char *sidecar;         /* the sidecar the loader reads (<basename>.json), malloc'ed */
    int have_sidecar;      /* it exists and parses */
    int sidecar_scaler;    /* features in its StandardScaler (0 = none) */
    tq_scaler_site site;   /* valid when problem[0] == 0 */
    char problem[TQ_ERROR_MSG_MAX]; /* unreadable sidecar, or sidecar and graph disagree */
} scaler_note;

/* Look for the sidecar beside model_path (X.onnx and X.int8.onnx both read
 * X.json, like the loader) and decide where the scaler is applied for the
 * first graph input. Returns 0, or -1 when out of memory. */
int scaler_note_make(const tq_model *m, const char *model_path, scaler_note *out);
void scaler_note_free(scaler_note *n);

/* One human sentence for the note (into buf). */
void scaler_note_text(const scaler_note *n, char *buf, size_t cap);
/* "loader" | "graph" | "none" | "error" */
const char *scaler_note_key(const scaler_note *n);

#endif
