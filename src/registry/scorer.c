/* tq_scorer: an opened registry entry. Holds the read-only model, the sidecar
 * and a lock-free pool of execution sessions so that many threads can score
 * through one scorer at once (a tq_session is single-threaded; a tq_model is
 * read-only and shared). A caller takes a free slot with an atomic exchange;
 * when every slot is busy it runs on a temporary session instead of waiting. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "registry/codec_block.h"
#include "registry/registry_internal.h"
#include "runtime/synthetic.h"
#include "util/error.h"

#define DEFAULT_SESSIONS 8

typedef struct slot {
    atomic_int busy;
    tq_session *session; /* created lazily by the slot's holder */
} slot;

struct tq_scorer {
    char *id;
    char *path;
    tq_quant_mode mode;
    tq_model *model;
    tq_sidecar sidecar;
    tq_input_kind kind;
    tq_scaler_site scaler;
    const tq_value_info *in, *codec_in;
    const char *out_name;
    int64_t features, codec_width, channels, height, width, out_per_sample;
    tq_codec_layout codec;
    slot *slots;
    int n_slots;
};

TQ_API void tq_scorer_default_settings(tq_scorer_settings *s)
{
    if (s) {
        memset(s, 0, sizeof *s);
        s->max_sessions = DEFAULT_SESSIONS;
    }
}

static int64_t out_elems_per_sample(const tq_model *m)
{
    const tq_value_info *o = &m->graph.outputs[0];
    if (o->rank < 0)
        return -1;
    int64_t n = 1;
    for (int d = 1; d < o->rank; d++) {
        if (o->dims[d] < 0)
            return -1;
        n *= o->dims[d];
    }
    return n;
}

/* Input kinds (SPEC §3): [batch, F] (+ optional [batch, C] codec block) or NCHW. */
static int classify_inputs(tq_scorer *s, tq_error *err)
{
    const tq_value_info *infos[4];
    int n = tq_model_runtime_inputs(s->model, infos, 4);
    if (n < 1 || n > 2)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: %d graph inputs; tinyq scores models with one "
                       "input (or features plus a codec block)", s->path, n);
    if (s->model->graph.n_outputs < 1)
        return tq_fail(err, TQ_EFORMAT, "%s: the graph has no output", s->path);
    s->in = infos[0];
    s->out_name = s->model->graph.outputs[0].name;
    s->out_per_sample = out_elems_per_sample(s->model);
    if (s->in->dtype != TQ_FLOAT)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s' is %s; scoring takes float32",
                       s->path, s->in->name, tq_dtype_name(s->in->dtype));
    if (s->in->rank == 2) {
        s->kind = TQ_INPUT_FEATURES;
        s->features = s->in->dims[1];
        if (s->features <= 0)
            return tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s' has a dynamic feature width; "
                           "the loader needs F", s->path, s->in->name);
    } else if (s->in->rank == 4) {
        s->kind = TQ_INPUT_IMAGE;
        s->channels = s->in->dims[1];
        s->height = s->in->dims[2];
        s->width = s->in->dims[3];
        if (s->channels <= 0)
            return tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s' has a dynamic channel count",
                           s->path, s->in->name);
    } else {
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: input '%s' has rank %d; tinyq scores rank-2 "
                       "feature vectors [batch, F] or rank-4 NCHW images", s->path, s->in->name,
                       s->in->rank);
    }
    if (n == 2) {
        s->codec_in = infos[1];
        if (s->kind != TQ_INPUT_FEATURES || s->codec_in->rank != 2 ||
            s->codec_in->dims[1] <= 0 || s->codec_in->dtype != TQ_FLOAT)
            return tq_fail(err, TQ_EUNSUPPORTED, "%s: second input '%s' (rank %d) is not a "
                           "[batch, C] float codec block of a feature-vector model", s->path,
                           s->codec_in->name, s->codec_in->rank);
        s->codec_width = s->codec_in->dims[1];
        int rc = tq_codec_layout_init(&s->codec, &s->sidecar, s->codec_width, s->path, err);
        if (rc)
            return rc;
    }
    if (s->kind == TQ_INPUT_FEATURES && s->sidecar.n_scaler &&
        s->sidecar.n_scaler != s->features)
        return tq_fail(err, TQ_EFORMAT, "%s: sidecar scaler has %d features, the model takes %lld",
                       s->path, s->sidecar.n_scaler, (long long)s->features);
    return TQ_OK;
}

TQ_API int tq_scorer_open(tq_scorer **out, const tq_registry *reg, const char *id,
                          const tq_scorer_settings *settings, tq_error *err)
{
    if (!out || !reg || !id)
        return tq_fail(err, TQ_EINVAL, "tq_scorer_open: NULL argument");
    *out = NULL;
    int idx = tq_registry_find(reg, id, err);
    if (idx < 0)
        return idx;
    tq_scorer *s = calloc(1, sizeof *s);
    if (!s)
        return tq_fail(err, TQ_ENOMEM, "out of memory");
    s->mode = reg->entries[idx].quant_mode;
    s->n_slots = settings && settings->max_sessions > 0 ? settings->max_sessions
                                                         : DEFAULT_SESSIONS;
    s->id = strdup(id);
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    int rc = s->id && s->slots ? TQ_OK : tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!rc)
        rc = tq_registry_load_entry(reg, idx, &s->model, &s->path, err);
    char *side = rc ? NULL : tq_registry_entry_file(reg, &reg->entries[idx], ".json");
    if (!rc && !side)
        rc = tq_fail(err, TQ_ENOMEM, "out of memory");
    if (!rc) {
        rc = tq_sidecar_load(side, &s->sidecar, err);
        if (rc == TQ_EIO) /* a model without a sidecar simply has no scaler */
            tq_error_clear(err), rc = TQ_OK;
    }
    free(side);
    if (!rc)
        rc = classify_inputs(s, err);
    if (!rc)
        rc = tq_scaler_decide(s->model, s->in->name,
                              s->kind == TQ_INPUT_FEATURES ? &s->sidecar : NULL, s->path,
                              &s->scaler, err);
    if (rc) {
        tq_scorer_close(&s);
        return rc;
    }
    for (int i = 0; i < s->n_slots; i++)
        atomic_init(&s->slots[i].busy, 0);
    *out = s;
    return TQ_OK;
}

TQ_API void tq_scorer_close(tq_scorer **sp)
{
    if (!sp || !*sp)
        return;
    tq_scorer *s = *sp;
    for (int i = 0; s->slots && i < s->n_slots; i++)
        tq_session_free(&s->slots[i].session);
    free(s->slots);
    tq_model_free(&s->model);
    tq_sidecar_free(&s->sidecar);
    free(s->path);
    free(s->id);
    free(s);
    *sp = NULL;
}

TQ_API int tq_scorer_get_info(const tq_scorer *s, tq_scorer_info *o)
{
    if (!s || !o)
        return TQ_EINVAL;
    memset(o, 0, sizeof *o);
    o->id = s->id;
    o->path = s->path;
    o->quant_mode = s->mode;
    o->input_kind = s->kind;
    o->scaler = s->scaler;
    o->features = s->features;
    o->codec_width = s->codec_width;
    o->channels = s->kind == TQ_INPUT_IMAGE ? s->channels : 0;
    o->height = s->kind == TQ_INPUT_IMAGE ? s->height : 0;
    o->width = s->kind == TQ_INPUT_IMAGE ? s->width : 0;
    o->outputs_per_sample = s->out_per_sample;
    o->input_name = s->in->name;
    o->codec_input_name = s->codec_in ? s->codec_in->name : NULL;
    o->output_name = s->out_name;
    return TQ_OK;
}

TQ_API const char *tq_scorer_feature_name(const tq_scorer *s, int i)
{
    if (!s || i < 0 || i >= s->sidecar.n_features)
        return NULL;
    return s->sidecar.features[i];
}

TQ_API int tq_scorer_codec_block(const tq_scorer *s, const tq_codec_context *ctx, float *block,
                                 size_t cap, tq_error *err)
{
    if (!s || !block)
        return tq_fail(err, TQ_EINVAL, "tq_scorer_codec_block: NULL argument");
    if (!s->codec_in)
        return tq_fail(err, TQ_EINVAL, "%s: the model takes no codec block", s->path);
    if (cap < (size_t)s->codec_width)
        return tq_fail(err, TQ_EINVAL, "%s: codec block needs %lld floats, buffer has %zu",
                       s->path, (long long)s->codec_width, cap);
    tq_codec_fill(&s->codec, ctx, block);
    return TQ_OK;
}

/* Run on a pooled session (or a temporary one when all are busy) and copy the
 * first output into out. */
static int run_pooled(tq_scorer *s, const tq_tensor_view *in, int n_in, int64_t batch,
                      float *out, size_t out_cap, size_t *out_len, tq_error *err)
{
    slot *held = NULL;
    for (int i = 0; i < s->n_slots && !held; i++)
        if (atomic_exchange_explicit(&s->slots[i].busy, 1, memory_order_acquire) == 0)
            held = &s->slots[i];
    tq_session *tmp = NULL, *sess = NULL;
    int rc = TQ_OK;
    if (held) {
        if (!held->session)
            rc = tq_session_create(&held->session, s->model, err);
        sess = held->session;
    } else {
        rc = tq_session_create(&tmp, s->model, err);
        sess = tmp;
    }
    int n_out = s->model->graph.n_outputs;
    tq_tensor_view outs[16];
    if (!rc && n_out > 16)
        rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: more than 16 outputs", s->path);
    if (!rc)
        rc = tq_session_run(sess, in, n_in, outs, n_out, err);
    if (!rc) {
        const tq_tensor_view *o = &outs[0];
        int64_t n = tq_shape_numel(o->dims, o->rank);
        if (o->dtype != TQ_FLOAT)
            rc = tq_fail(err, TQ_EUNSUPPORTED, "%s: output '%s' is %s, not float32", s->path,
                         o->name, tq_dtype_name(o->dtype));
        else if (n < 0 || (size_t)n > out_cap)
            rc = tq_fail(err, TQ_EINVAL, "%s: output '%s' has %lld values for %lld samples; "
                         "the buffer holds %zu", s->path, o->name, (long long)n,
                         (long long)batch, out_cap);
        else {
            memcpy(out, o->data, (size_t)n * sizeof(float));
            if (out_len)
                *out_len = (size_t)n;
        }
    }
    if (held)
        atomic_store_explicit(&held->busy, 0, memory_order_release);
    tq_session_free(&tmp);
    return rc;
}

TQ_API int tq_scorer_score_features(tq_scorer *s, const float *x, int64_t batch,
                                    const tq_codec_context *codec, float *out, size_t out_cap,
                                    tq_error *err)
{
    if (!s || !x || !out || batch <= 0)
        return tq_fail(err, TQ_EINVAL, "tq_scorer_score_features: NULL argument or batch <= 0");
    if (s->kind != TQ_INPUT_FEATURES)
        return tq_fail(err, TQ_EINVAL, "%s: input '%s' takes images (rank 4), not feature "
                       "vectors", s->path, s->in->name);
    size_t n = (size_t)batch * (size_t)s->features;
    float *scaled = NULL, *block = NULL;
    const float *feed = x;
    if (s->scaler == TQ_SCALER_LOADER) {
        /* (x - mean) / std in double, rounded once to float32 */
        if (!(scaled = malloc(n * sizeof *scaled)))
            return tq_fail(err, TQ_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            size_t f = i % (size_t)s->features;
            scaled[i] = (float)(((double)x[i] - s->sidecar.mean[f]) / s->sidecar.std[f]);
        }
        feed = scaled;
    }
    tq_tensor_view in[2] = {{.name = s->in->name, .dtype = TQ_FLOAT, .rank = 2,
                             .dims = {batch, s->features}, .data = (void *)feed}};
    int n_in = 1;
    int rc = TQ_OK;
    if (s->codec_in) {
        block = malloc((size_t)batch * (size_t)s->codec_width * sizeof *block);
        if (!block)
            rc = tq_fail(err, TQ_ENOMEM, "out of memory");
        for (int64_t b = 0; !rc && b < batch; b++)
            tq_codec_fill(&s->codec, codec, block + b * s->codec_width);
        in[1] = (tq_tensor_view){.name = s->codec_in->name, .dtype = TQ_FLOAT, .rank = 2,
                                 .dims = {batch, s->codec_width}, .data = block};
        n_in = 2;
    }
    if (!rc)
        rc = run_pooled(s, in, n_in, batch, out, out_cap, NULL, err);
    free(scaled);
    free(block);
    return rc;
}

TQ_API int tq_scorer_score_images(tq_scorer *s, const float *images, int64_t batch, int64_t h,
                                  int64_t w, float *out, size_t out_cap, size_t *out_len,
                                  tq_error *err)
{
    if (!s || !images || !out || batch <= 0 || h <= 0 || w <= 0)
        return tq_fail(err, TQ_EINVAL, "tq_scorer_score_images: NULL argument or empty shape");
    if (s->kind != TQ_INPUT_IMAGE)
        return tq_fail(err, TQ_EINVAL, "%s: input '%s' takes feature vectors (rank 2), not "
                       "images", s->path, s->in->name);
    if ((s->height > 0 && s->height != h) || (s->width > 0 && s->width != w))
        return tq_fail(err, TQ_EINVAL, "%s: input '%s' takes %lldx%lld images, got %lldx%lld",
                       s->path, s->in->name, (long long)s->height, (long long)s->width,
                       (long long)h, (long long)w);
    tq_tensor_view in = {.name = s->in->name, .dtype = TQ_FLOAT, .rank = 4,
                         .dims = {batch, s->channels, h, w}, .data = (void *)images};
    return run_pooled(s, &in, 1, batch, out, out_cap, out_len, err);
}
