/* ONNX Cast for the common numeric pairs as tight loops (the generic
 * per-element path in runtime/ops/cast.c costs ~6 ns an element: the int32
 * -> float Cast of an unfused dynamic int8 graph was a fifth of its time).
 *
 * Semantics, identical in every version (tested bit for bit):
 * - int32 -> float rounds to nearest even (exact below 2^24), like C and
 *   the generic path (int32 -> double is exact, so rounding happens once);
 * - int8 / uint8 -> float are exact;
 * - float -> int32 / int8 / uint8 truncate toward zero to int64 and keep the
 *   low bits (ONNX leaves out-of-range results undefined; this is the
 *   generic path's choice: NaN and |x| >= 2^63 give INT64_MIN, whose low
 *   bits are 0);
 * - float <-> double: C conversions (round to nearest even, NaN stays NaN,
 *   out of float range -> +-inf). */
#ifndef TQ_KERNELS_CAST_H
#define TQ_KERNELS_CAST_H

#include <stddef.h>

/* y[i] = cast(x[i]) for i < n; x and y do not overlap. */
typedef void (*tq_cast_fn)(const void *x, void *y, size_t n);

typedef struct tq_cast_kernels {
    tq_cast_fn i32_f32, i8_f32, u8_f32;
    tq_cast_fn f32_i32, f32_i8, f32_u8;
    tq_cast_fn f32_f64, f64_f32;
} tq_cast_kernels;

/* The best versions for this CPU (tq_cpu_flags). */
const tq_cast_kernels *tq_cast_get(void);

extern const tq_cast_kernels tq_cast_c;
#if defined(TQ_HAVE_AVX2)
extern const tq_cast_kernels tq_cast_avx2;
#endif

/* One float -> integer element (the C reference, used by the AVX2 version
 * for lanes out of int32 range). */
static inline long long tq_cast_f32_i64(float v)
{
    /* -2^63 and 2^63 are exact floats: the same test as on the double */
    if (!(v > -9223372036854775808.0f && v < 9223372036854775808.0f))
        return (long long)(-9223372036854775807LL - 1);
    return (long long)v;
}

#endif
