/* Cast kernels, AVX2 (cast.h): 8 lanes a step, the tail through the same
 * per-element formulas as cast_c.c. float -> integer uses vcvttps2dq, which
 * truncates like C in int32 range and returns 0x80000000 otherwise (and for
 * NaN): a step with such a lane is redone element by element, so large
 * values keep the reference's int64 wrap-around. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/cast.h"

static void i32_f32(const void *x, void *y, size_t n)
{
    const int32_t *a = x;
    float *b = y;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) /* four independent vectors a step */
        for (int k = 0; k < 32; k += 8)
            _mm256_storeu_ps(b + i + k, _mm256_cvtepi32_ps(
                                            _mm256_loadu_si256((const __m256i *)(a + i + k))));
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(b + i, _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(a + i))));
    for (; i < n; i++)
        b[i] = (float)a[i];
}

static void i8_f32(const void *x, void *y, size_t n)
{
    const int8_t *a = x;
    float *b = y;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm_loadl_epi64((const __m128i *)(a + i));
        _mm256_storeu_ps(b + i, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)));
    }
    for (; i < n; i++)
        b[i] = (float)a[i];
}

static void u8_f32(const void *x, void *y, size_t n)
{
    const uint8_t *a = x;
    float *b = y;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm_loadl_epi64((const __m128i *)(a + i));
        _mm256_storeu_ps(b + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)));
    }
    for (; i < n; i++)
        b[i] = (float)a[i];
}

/* Truncated int32 lanes of x[0..7]; false when a lane is out of int32 range
 * or NaN (or exactly -2^31: the element path gives the same for it). */
static inline bool trunc8(const float *x, __m256i *r)
{
    *r = _mm256_cvttps_epi32(_mm256_loadu_ps(x));
    __m256i bad = _mm256_cmpeq_epi32(*r, _mm256_set1_epi32(INT32_MIN));
    return _mm256_testz_si256(bad, bad);
}

static void f32_i32(const void *x, void *y, size_t n)
{
    const float *a = x;
    int32_t *b = y;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i r;
        if (trunc8(a + i, &r))
            _mm256_storeu_si256((__m256i *)(b + i), r);
        else
            for (size_t k = i; k < i + 8; k++)
                b[k] = (int32_t)(uint32_t)(uint64_t)tq_cast_f32_i64(a[k]);
    }
    for (; i < n; i++)
        b[i] = (int32_t)(uint32_t)(uint64_t)tq_cast_f32_i64(a[i]);
}

/* the low byte of each int32 lane, 8 bytes to p */
static inline void store_low_bytes(uint8_t *p, __m256i r)
{
    const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, -1, -1);
    __m256i bytes = _mm256_shuffle_epi8(r, pick); /* dword 0 and dword 4 */
    __m256i both = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
    _mm_storel_epi64((__m128i *)p, _mm256_castsi256_si128(both));
}

/* float -> int8 and -> uint8 keep the same low 8 bits */
static void f32_b8(const void *x, void *y, size_t n)
{
    const float *a = x;
    uint8_t *b = y;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i r;
        if (trunc8(a + i, &r))
            store_low_bytes(b + i, r);
        else
            for (size_t k = i; k < i + 8; k++)
                b[k] = (uint8_t)(uint64_t)tq_cast_f32_i64(a[k]);
    }
    for (; i < n; i++)
        b[i] = (uint8_t)(uint64_t)tq_cast_f32_i64(a[i]);
}

/* vcvtps2pd / vcvtpd2ps round like the C conversions (MXCSR: nearest even) */
static void f32_f64(const void *x, void *y, size_t n)
{
    const float *a = x;
    double *b = y;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(b + i, _mm256_cvtps_pd(_mm_loadu_ps(a + i)));
    for (; i < n; i++)
        b[i] = a[i];
}

static void f64_f32(const void *x, void *y, size_t n)
{
    const double *a = x;
    float *b = y;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(b + i, _mm256_cvtpd_ps(_mm256_loadu_pd(a + i)));
    for (; i < n; i++)
        b[i] = (float)a[i];
}

const tq_cast_kernels tq_cast_avx2 = { i32_f32, i8_f32, u8_f32, f32_i32, f32_b8, f32_b8,
                                       f32_f64, f64_f32 };
