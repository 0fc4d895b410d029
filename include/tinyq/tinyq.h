/* tinyq public API: load, run, save tiny ONNX models.
 *
 * Conventions (after dav1d): opaque handles, int returns (0 or a negative
 * TQ_E* code), and a per-handle or caller-owned tq_error that carries the
 * human-readable message naming the file/node/tensor and the problem. */
#ifndef TINYQ_TINYQ_H
#define TINYQ_TINYQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TINYQ_BUILDING) && defined(__GNUC__)
#define TQ_API __attribute__((visibility("default")))
#else
#define TQ_API
#endif

/* Error codes. The CLI maps TQ_ECHECK to exit 1 and every other error to 2. */
enum {
    TQ_OK = 0,
    TQ_EINVAL = -1,       /* bad argument / usage */
    TQ_EIO = -2,          /* file missing, unreadable, unwritable */
    TQ_EFORMAT = -3,      /* malformed file contents */
    TQ_EUNSUPPORTED = -4, /* valid but outside what tinyq supports */
    TQ_ENOMEM = -5,
    TQ_ECHECK = -6,       /* a check failed (gate over budget, registry invalid) */
    TQ_EINTERNAL = -7,
};

#define TQ_ERROR_MSG_MAX 1024
typedef struct tq_error {
    int code;
    char msg[TQ_ERROR_MSG_MAX];
} tq_error;

TQ_API const char *tq_version(void);
TQ_API const char *tq_strerror(int code);

/* Element types: numeric values equal ONNX TensorProto.DataType. */
typedef enum tq_dtype {
    TQ_UNDEFINED = 0,
    TQ_FLOAT = 1,
    TQ_UINT8 = 2,
    TQ_INT8 = 3,
    TQ_UINT16 = 4,
    TQ_INT16 = 5,
    TQ_INT32 = 6,
    TQ_INT64 = 7,
    TQ_STRING = 8,
    TQ_BOOL = 9,
    TQ_FLOAT16 = 10,
    TQ_DOUBLE = 11,
    TQ_UINT32 = 12,
    TQ_UINT64 = 13,
} tq_dtype;

TQ_API const char *tq_dtype_name(tq_dtype t);

/* Quantisation modes (SPEC §2), shared by the quantiser and the registry. */
typedef enum tq_quant_mode {
    TQ_QUANT_FP32 = 0,
    TQ_QUANT_DYNAMIC = 1,
    TQ_QUANT_STATIC = 2,
    TQ_QUANT_QAT = 3,
} tq_quant_mode;

/* "fp32", "dynamic", "static", "qat" (the registry's spelling). */
TQ_API const char *tq_quant_mode_name(tq_quant_mode mode);
TQ_API size_t tq_dtype_size(tq_dtype t);

#define TQ_MAX_RANK 8

/* A borrowed view of a dense row-major tensor. */
typedef struct tq_tensor_view {
    const char *name;
    tq_dtype dtype;
    int rank;
    int64_t dims[TQ_MAX_RANK];
    void *data;
} tq_tensor_view;

typedef struct tq_model tq_model;     /* an ONNX model in memory (immutable once run) */
typedef struct tq_session tq_session; /* execution state for one thread */

/* Load an .onnx file (external data resolved relative to its folder). */
TQ_API int tq_model_load(tq_model **out, const char *path, tq_error *err);
/* Load from memory; base_dir is used for external data (NULL: refuse it). */
TQ_API int tq_model_load_buffer(tq_model **out, const void *buf, size_t len,
                                const char *name, const char *base_dir, tq_error *err);
/* Save atomically (temp file + rename), all weights inline. */
TQ_API int tq_model_save(const tq_model *m, const char *path, tq_error *err);
TQ_API void tq_model_free(tq_model **m);

/* Remove graph.value_info entries that duplicate initializer names.
 * Returns the number removed (>= 0) or a negative error. */
TQ_API int tq_model_sanitize(tq_model *m);

TQ_API int tq_model_num_inputs(const tq_model *m);
TQ_API int tq_model_num_outputs(const tq_model *m);
/* Name, dtype and shape of graph input/output i; dynamic dims are -1. */
TQ_API int tq_model_input(const tq_model *m, int i, tq_tensor_view *out);
TQ_API int tq_model_output(const tq_model *m, int i, tq_tensor_view *out);

/* Sessions: one per thread; the model must outlive it. */
TQ_API int tq_session_create(tq_session **out, const tq_model *m, tq_error *err);
TQ_API void tq_session_free(tq_session **s);
/* Run with inputs matched by name. Outputs point into session memory and stay
 * valid until the next run or free. */
TQ_API int tq_session_run(tq_session *s, const tq_tensor_view *inputs, int n_inputs,
                          tq_tensor_view *outputs, int n_outputs, tq_error *err);
/* Bytes of the activation arena planned for the last input shape. */
TQ_API size_t tq_session_arena_bytes(const tq_session *s);

#ifdef __cplusplus
}
#endif
#endif
