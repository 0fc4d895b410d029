/* CPU feature detection for kernel dispatch, with a mask so tests (and users
 * chasing a bug) can force the portable C kernels. */
#ifndef TQ_KERNELS_CPU_H
#define TQ_KERNELS_CPU_H

enum {
    /* AVX2 + FMA together: the tier every x86 kernel here targets. */
    TQ_CPU_FLAG_AVX2 = 1u << 0,
    /* AVX512-VNNI usable on 256-bit vectors (avx512vl + avx512vnni, OS
     * state enabled): the int8 kernels' vpdpwssd path. */
    TQ_CPU_FLAG_AVX512VNNI = 1u << 1,
    /* AVX512BW + AVX512-VBMI (512-bit byte permutes): int8 table lookups. */
    TQ_CPU_FLAG_AVX512VBMI = 1u << 2,
};

/* Detected flags AND the mask. The mask starts as the value of the
 * environment variable TQ_CPU_MASK (e.g. "0" forces C), default all ones. */
unsigned tq_cpu_flags(void);
/* Override the mask (tests); affects tables initialised afterwards. */
void tq_cpu_set_mask(unsigned mask);

#endif
