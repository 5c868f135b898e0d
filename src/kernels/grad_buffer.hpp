// Where a backward function puts the gradient of one of its inputs.
//
// Tensor::mutable_grad() hands out a zero-filled buffer the first time, and backward functions add
// into it. Most of the time that addition is into zeros: the input is used once, so its gradient
// arrives once. grad_buffer() skips the zero-fill and the read: the first gradient to arrive is
// *written* into a fresh, uninitialised buffer, and only later contributions (an input used twice,
// or a leaf whose gradient accumulates across backward calls) are *added*. A kernel that receives
// a GradBuffer with accumulate == false must therefore write every element.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/isa.hpp"
#include "kernels/parallel.hpp"
#include "normgrad/tensor.hpp"

namespace normgrad {

struct GradBuffer {
    float* data;
    bool accumulate;  // true: add into data; false: data is uninitialised, overwrite all of it
    float beta() const { return accumulate ? 1.f : 0.f; }  // for GEMM: C = A B + beta C
};

inline GradBuffer grad_buffer(const Tensor& t) {
    TensorImpl& impl = t.impl();
    if (impl.grad) return {impl.grad->data(), true};
    impl.grad = Storage::make(static_cast<size_t>(impl.shape.numel()));
    return {impl.grad->data(), false};
}

namespace kernels {

// d[i] = value(i) or d[i] += value(i) for i in [lo, hi): one loop the compiler vectorises, in the
// three builds of kernels/isa.hpp. `value` is inlined into each build; it is copied into a local
// first, so that the pointers it captured are known not to change while the loop writes d
// (otherwise the compiler reloads them per element and does not vectorise).
template <class F>
NORMGRAD_INLINE void write_range_body(float* d, int64_t lo, int64_t hi, bool accumulate,
                                      const F& value) {
    const F v = value;
    if (accumulate) {
#pragma omp simd
        for (int64_t i = lo; i < hi; ++i) d[i] += v(i);
    } else {
#pragma omp simd
        for (int64_t i = lo; i < hi; ++i) d[i] = v(i);
    }
}
template <class F>
void write_range_baseline(float* d, int64_t lo, int64_t hi, bool accumulate, const F& value) {
    write_range_body(d, lo, hi, accumulate, value);
}
template <class F>
NORMGRAD_AVX2 void write_range_avx2(float* d, int64_t lo, int64_t hi, bool accumulate,
                                    const F& value) {
    write_range_body(d, lo, hi, accumulate, value);
}
template <class F>
NORMGRAD_AVX512 void write_range_avx512(float* d, int64_t lo, int64_t hi, bool accumulate,
                                        const F& value) {
    write_range_body(d, lo, hi, accumulate, value);
}

// d[i] = value(i) (or +=, with accumulate) for i in [lo, hi), in the calling thread (for loops
// that share their rows among the threads themselves).
template <class F>
inline void write_range(float* d, int64_t lo, int64_t hi, bool accumulate, F value) {
    pick(write_range_baseline<F>, write_range_avx2<F>, write_range_avx512<F>)(d, lo, hi, accumulate,
                                                                              value);
}

// d[i] = value(i) (or +=, with accumulate) for i in [0, n), large ranges split between threads
// (on cache lines: 16 floats).
template <class F>
inline void write_elements(float* d, int64_t n, bool accumulate, F value) {
    for_ranges(n, 1, 16,
               [&](int64_t lo, int64_t hi) { write_range(d, lo, hi, accumulate, value); });
}

}  // namespace kernels

// g[i] = value(i) or g[i] += value(i) for i in [0, n), as g asks (kernels::write_elements).
template <class F>
inline void write_grad(GradBuffer g, int64_t n, F value) {
    kernels::write_elements(g.data, n, g.accumulate, value);
}

// g[i] = v or g[i] += v, as g asks: for backward functions that write one element at a time
// (each element exactly once when g is fresh).
inline void put_grad(GradBuffer g, int64_t i, float v) {
    if (g.accumulate)
        g.data[i] += v;
    else
        g.data[i] = v;
}

}  // namespace normgrad
