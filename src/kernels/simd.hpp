// Eight floats as one value, for the few kernels written with explicit vectors.
//
// v8 is GCC's (and Clang's) vector extension: `a + b`, `a * b` and `s * a` work lane by lane and
// compile to one AVX instruction, or to two SSE instructions where AVX is not enabled.
//
// The library is built for the baseline x86-64 (SSE2); the kernels that use these vectors are also
// compiled for AVX2 and AVX-512 and chosen at run time (kernels/isa.hpp), where a v8 is one
// 256-bit register.
#pragma once

#include <cstring>

#define NORMGRAD_INLINE [[gnu::always_inline]] inline

// Passing a 32-byte vector by value without AVX has another ABI: true but harmless here, since
// every function taking or returning a v8 is inlined.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace normgrad::kernels {

typedef float v8 __attribute__((vector_size(32)));

NORMGRAD_INLINE v8 load(const float* p) {  // any alignment
    v8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

NORMGRAD_INLINE void store(float* p, v8 v) {
    std::memcpy(p, &v, sizeof v);
}

NORMGRAD_INLINE v8 splat(float s) {
    return v8{s, s, s, s, s, s, s, s};
}

// Lanes summed pairwise in a fixed order, so the result does not depend on the compiler.
NORMGRAD_INLINE float horizontal_sum(v8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

}  // namespace normgrad::kernels
