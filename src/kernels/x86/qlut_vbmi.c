/* 256-entry byte table lookup (kernels/qgemm.h tq_lut8) with AVX512-VBMI:
 * vpermi2b looks 64 bytes up in a 128-byte half of the table; two of them
 * and a blend on each index's top bit cover all 256 entries. Per-function
 * target: the library itself does not require AVX-512; dispatched only when
 * tq_cpu_flags() reports TQ_CPU_FLAG_AVX512VBMI. */
#include <immintrin.h>

#include "kernels/qgemm.h"

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void
tq_lut8_vbmi(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *table)
{
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i idx = _mm512_loadu_si512(src + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);
        _mm512_storeu_si512(dst + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
    }
    if (i < n) {
        __mmask64 m = (1ull << (n - i)) - 1; /* n - i < 64 */
        __m512i idx = _mm512_maskz_loadu_epi8(m, src + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);
        _mm512_mask_storeu_epi8(dst + i, m,
                                _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
    }
}
