/* Helpers shared by the light op families (elementwise, activation, shape,
 * reduce, resize): dtype-generic loads/stores, axis normalisation and a
 * broadcast iterator that collapses shapes so the inner loop is contiguous. */
#ifndef TQ_RUNTIME_OPS_COMMON_H
#define TQ_RUNTIME_OPS_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/op.h"

/* Normalise axis in [-rank, rank) (or [-rank, rank] when allow_end) to >= 0;
 * fails naming the node when out of range. */
int tq_axis_norm(tq_op_ctx *c, int64_t axis, int rank, bool allow_end, int *out);

bool tq_dtype_is_float(tq_dtype t);   /* float32, float16, double */
bool tq_dtype_is_numeric(tq_dtype t); /* float or integer (not bool/string) */

/* Element i of a dense buffer as double / stored from double. Stores into
 * integer types truncate toward zero (ONNX Cast) and never invoke C undefined
 * behaviour: out-of-range values wrap like a two's complement int64. */
double tq_load_f64(tq_dtype t, const void *data, int64_t i);
void tq_store_f64(tq_dtype t, void *data, int64_t i, double v);
/* Integer element as int64 (floats truncated, like tq_store_f64). */
int64_t tq_f64_to_i64(double v);

/* Broadcast plan for out = f(a, b): dims with size 1 in the output are
 * dropped and adjacent dims merged, so the last dim is contiguous in the
 * output and has stride 0 or 1 in each input. */
typedef struct tq_bcast {
    int rank;
    int64_t dims[TQ_MAX_RANK];
    int64_t sa[TQ_MAX_RANK], sb[TQ_MAX_RANK]; /* element strides, 0 = broadcast */
} tq_bcast;

void tq_bcast_plan(const tq_value *a, const tq_value *b, const tq_value *out, tq_bcast *p);

/* Inner kernel: n output elements; a/b advance by sa/sb (0 or 1) elements. */
typedef void (*tq_bin_fn)(const void *a, int64_t sa, const void *b, int64_t sb, void *o,
                          int64_t n, const void *user);

/* Run fn over the whole plan; esa/esb/eso are element sizes in bytes. */
void tq_bcast_run(const tq_bcast *p, tq_bin_fn fn, const void *a, size_t esa, const void *b,
                  size_t esb, void *o, size_t eso, const void *user);

/* Float unary map: the f32 kernel runs directly on float32 and on float
 * chunks converted from float16 (float16 math is done in float, as ONNX
 * Runtime does). prepare accepts float32/float16 and mirrors the shape.
 * p carries op parameters (alpha, ...). */
typedef void (*tq_unary_f32_fn)(const float *x, float *y, int64_t n, const float *p);
int tq_unary_float_prepare(tq_op_ctx *c);
int tq_unary_float_eval(tq_op_ctx *c, tq_unary_f32_fn fn, const float *p);

/* Copy input 0 to output 0 unless they already share memory. */
void tq_copy_through(tq_op_ctx *c);

/* Unary math ops (unary.c), listed by elementwise.c. */
extern const tq_op_def tq_op_sqrt, tq_op_erf, tq_op_neg, tq_op_abs, tq_op_exp, tq_op_log,
    tq_op_reciprocal, tq_op_floor, tq_op_ceil;
/* Layout ops (layout.c) and Cast (cast.c), listed by shape.c. */
extern const tq_op_def tq_op_transpose, tq_op_concat, tq_op_gather, tq_op_cast;

#endif
