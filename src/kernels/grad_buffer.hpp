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

// g[i] = value(i) or g[i] += value(i) for i in [0, n), as g asks. `value` is inlined, so each
// branch is one simple loop the compiler can vectorise; large ones are split between threads.
// (`value` is taken by value and copied into each thread, so that the pointers it captured are
// known not to change while the loop writes g: otherwise the compiler reloads them per element
// and does not vectorise.)
template <class F>
inline void write_grad(GradBuffer g, int64_t n, F value) {
    float* d = g.data;
    if (g.accumulate) {
#pragma omp parallel for simd schedule(static) \
    firstprivate(value) if (parallel           \
                            : n >= kernels::kMinParallelElements)
        for (int64_t i = 0; i < n; ++i) d[i] += value(i);
    } else {
#pragma omp parallel for simd schedule(static) \
    firstprivate(value) if (parallel           \
                            : n >= kernels::kMinParallelElements)
        for (int64_t i = 0; i < n; ++i) d[i] = value(i);
    }
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
