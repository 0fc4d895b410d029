/* Cast kernels, plain C (cast.h). Simple loops: the compiler vectorises the
 * int -> float ones; float -> int needs the out-of-range test per element. */
#include <stdint.h>

#include "kernels/cast.h"
#include "kernels/cpu.h"

static void i32_f32(const void *x, void *y, size_t n)
{
    const int32_t *a = x;
    float *b = y;
    for (size_t i = 0; i < n; i++)
        b[i] = (float)a[i];
}

static void i8_f32(const void *x, void *y, size_t n)
{
    const int8_t *a = x;
    float *b = y;
    for (size_t i = 0; i < n; i++)
        b[i] = (float)a[i];
}

static void u8_f32(const void *x, void *y, size_t n)
{
    const uint8_t *a = x;
    float *b = y;
    for (size_t i = 0; i < n; i++)
        b[i] = (float)a[i];
}

/* low bits of the truncated int64 (unsigned: wrapping is defined) */
static void f32_i32(const void *x, void *y, size_t n)
{
    const float *a = x;
    int32_t *b = y;
    for (size_t i = 0; i < n; i++)
        b[i] = (int32_t)(uint32_t)(uint64_t)tq_cast_f32_i64(a[i]);
}

static void f32_i8(const void *x, void *y, size_t n)
{
    const float *a = x;
    int8_t *b = y;
    for (size_t i = 0; i < n; i++)
        b[i] = (int8_t)(uint8_t)(uint64_t)tq_cast_f32_i64(a[i]);
}

static void f32_u8(const void *x, void *y, size_t n)
{
    const float *a = x;
    uint8_t *b = y;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(uint64_t)tq_cast_f32_i64(a[i]);
}

static void f32_f64(const void *x, void *y, size_t n)
{
    const float *a = x;
    double *b = y;
    for (size_t i = 0; i < n; i++)
        b[i] = a[i];
}

static void f64_f32(const void *x, void *y, size_t n)
{
    const double *a = x;
    float *b = y;
    for (size_t i = 0; i < n; i++)
        b[i] = (float)a[i];
}

const tq_cast_kernels tq_cast_c = { i32_f32, i8_f32, u8_f32, f32_i32, f32_i8, f32_u8,
                                    f32_f64, f64_f32 };

const tq_cast_kernels *tq_cast_get(void)
{
#if defined(TQ_HAVE_AVX2)
    if (tq_cpu_flags() & TQ_CPU_FLAG_AVX2)
        return &tq_cast_avx2;
#endif
    return &tq_cast_c;
}
