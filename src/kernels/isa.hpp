// One kernel, three builds, one chosen at run time.
//
// A kernel that matters for speed is written once, as an inline function, and compiled into three
// functions by the attributes below: for the baseline x86-64 (SSE2, the whole library's target,
// so that it runs on any x86-64 processor), for x86-64-v3 (AVX2 + FMA) and for x86-64-v4
// (AVX-512). The public entry point calls the one kernel_isa() names (normgrad/cpu.hpp): the best
// the processor has, unless NORMGRAD_ISA or set_kernel_isa() asks for less, which is how the tests
// compare each build against the baseline one. Helpers called from a kernel must be inlined into
// it (NORMGRAD_INLINE) to be compiled for its instruction set.
//
// GCC vectorises loops 256 bits wide even for AVX-512 unless told otherwise; the AVX-512 build
// asks for 512 (prefer-vector-width, which clang 14 does not accept in an attribute: its AVX-512
// build keeps 256-bit vectors, which only the sanitizer build, compiled by clang, sees).
// The builds can round differently (FMA rounds once, sums split into other lanes), but each
// is deterministic.
#pragma once

#include "kernels/simd.hpp"
#include "normgrad/cpu.hpp"

#if defined(__x86_64__)
#define NORMGRAD_AVX2 __attribute__((target("arch=x86-64-v3")))
#if defined(__clang__)
#define NORMGRAD_AVX512 __attribute__((target("arch=x86-64-v4")))
#else
#define NORMGRAD_AVX512 __attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))
#endif
#else
#define NORMGRAD_AVX2
#define NORMGRAD_AVX512
#endif

namespace normgrad::kernels {

// The function among the three builds of a kernel that kernel_isa() names.
template <class F>
NORMGRAD_INLINE F pick(F baseline, F avx2, F avx512) {
    switch (kernel_isa()) {
        case Isa::avx512:
            return avx512;
        case Isa::avx2:
            return avx2;
        default:
            return baseline;
    }
}

}  // namespace normgrad::kernels

// Defines NAME_baseline, NAME_avx2 and NAME_avx512, each calling BODY (an inline function of the
// same parameters) with ARGS, compiled for its instruction set:
//   NORMGRAD_KERNEL_BUILDS(void, scale, (float* p, int64_t n, float s), scale_body, (p, n, s))
// and then `pick(scale_baseline, scale_avx2, scale_avx512)(p, n, s)` calls the chosen one.
#define NORMGRAD_KERNEL_BUILDS(RET, NAME, PARAMS, BODY, ARGS) \
    NORMGRAD_KERNEL_BUILDS_AS(NORMGRAD_AVX512, RET, NAME, PARAMS, BODY, ARGS)
#define NORMGRAD_KERNEL_BUILDS_AS(AVX512, RET, NAME, PARAMS, BODY, ARGS) \
    RET NAME##_baseline PARAMS {                                         \
        return BODY ARGS;                                                \
    }                                                                    \
    NORMGRAD_AVX2 RET NAME##_avx2 PARAMS {                               \
        return BODY ARGS;                                                \
    }                                                                    \
    AVX512 RET NAME##_avx512 PARAMS {                                    \
        return BODY ARGS;                                                \
    }

// The same, plus NAME itself: the entry point that calls the build kernel_isa() names.
#define NORMGRAD_KERNEL(RET, NAME, PARAMS, BODY, ARGS) \
    NORMGRAD_KERNEL_AS(NORMGRAD_AVX512, RET, NAME, PARAMS, BODY, ARGS)
// A kernel whose AVX-512 build is compiled for AVX2 (x86-64-v3): for the kernels GCC 12's AVX-512
// code ran slower on, measured on the benchmark's cnn with perf (docs/performance.md): the 2x2
// max-pooling (1.9x the AVX2 build's time forward, 1.7x backward) and three of the four Winograd
// transforms (1.2x to 1.3x), whose loops are rows of 7 to 28 values, too short for 16-float
// vectors. (One pair of profiled runs; bench/kernel_builds.sh measures the outcome.)
#define NORMGRAD_KERNEL_AVX2_ON_AVX512(RET, NAME, PARAMS, BODY, ARGS) \
    NORMGRAD_KERNEL_AS(NORMGRAD_AVX2, RET, NAME, PARAMS, BODY, ARGS)
#define NORMGRAD_KERNEL_AS(AVX512, RET, NAME, PARAMS, BODY, ARGS)                           \
    NORMGRAD_KERNEL_BUILDS_AS(AVX512, RET, NAME, PARAMS, BODY, ARGS)                        \
    RET NAME PARAMS {                                                                       \
        return ::normgrad::kernels::pick(NAME##_baseline, NAME##_avx2, NAME##_avx512) ARGS; \
    }
