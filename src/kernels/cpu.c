/* CPU feature detection for kernel dispatch (see cpu.h). */
#include <stdlib.h>

#include "kernels/cpu.h"

static unsigned cpu_mask = ~0u;
static int mask_from_env_done;

static unsigned detect(void)
{
    unsigned flags = 0;
#if defined(TQ_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        flags |= TQ_CPU_FLAG_AVX2;
    if ((flags & TQ_CPU_FLAG_AVX2) && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni"))
        flags |= TQ_CPU_FLAG_AVX512VNNI;
    if ((flags & TQ_CPU_FLAG_AVX2) && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vbmi"))
        flags |= TQ_CPU_FLAG_AVX512VBMI;
#endif
    return flags;
}

unsigned tq_cpu_flags(void)
{
    /* Racy only in the benign sense: every thread computes the same values.
     * Detected once: kernels ask on every call. */
    static int detected_done;
    static unsigned detected;
    if (!detected_done) {
        detected = detect();
        detected_done = 1;
    }
    if (!mask_from_env_done) {
        const char *env = getenv("TQ_CPU_MASK");
        if (env && *env)
            cpu_mask = (unsigned)strtoul(env, NULL, 0);
        mask_from_env_done = 1;
    }
    return detected & cpu_mask;
}

void tq_cpu_set_mask(unsigned mask)
{
    mask_from_env_done = 1;
    cpu_mask = mask;
}
