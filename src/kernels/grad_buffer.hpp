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
#include <vector>

#include "kernels/parallel.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/norms.hpp"
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

// The sum of squares of an operation's output gradient, for the gradient statistics
// (autograd::output_grad_squares_request), taken in pieces (planes or blocks) while the backward
// reads them: piece i's sum goes to parts()[i], from whichever thread reads it, and finish()
// adds the pieces in order into the request, so the total does not depend on the thread count.
// When nobody asked (or measurable is false), parts() is null and finish() does nothing.
class OutputGradSquares {
  public:
    explicit OutputGradSquares(int64_t pieces, bool measurable = true)
        : request_(measurable ? autograd::output_grad_squares_request() : nullptr),
          parts_(request_ ? static_cast<size_t>(pieces) : 0) {}
    double* parts() { return request_ ? parts_.data() : nullptr; }
    void finish() const {
        if (!request_) return;
        double total = 0.0;
        for (double v : parts_) total += v;
        *request_ = total;
    }

  private:
    double* request_;
    std::vector<double> parts_;
};

// The number of sum_of_squares blocks in n values.
inline int64_t sum_of_squares_blocks(int64_t n) {
    return (n + kSumOfSquaresBlock - 1) / kSumOfSquaresBlock;
}

// write_grad, and also block_sums[b] = the sum of squares of block b of source[0..n) (the output
// gradient the values are computed from; sum_of_squares_blocks(n) slots): added in order they
// give bit for bit normgrad::sum_of_squares(source, n), the same blocks, each summed right after
// the loop has read it, while it is still in L1 cache, instead of in a second pass from memory.
template <class F>
void write_grad_and_measure(GradBuffer g, int64_t n, F value, const float* source,
                            double* block_sums) {
    constexpr int64_t kBlock = kSumOfSquaresBlock;
    const int64_t blocks = sum_of_squares_blocks(n);
    float* d = g.data;
    const bool accumulate = g.accumulate;
#pragma omp parallel for schedule(static) \
    firstprivate(value) if (n >= kernels::kMinParallelElements)
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t first = b * kBlock, last = std::min(n, first + kBlock);
        if (accumulate) {
#pragma omp simd
            for (int64_t i = first; i < last; ++i) d[i] += value(i);
        } else {
#pragma omp simd
            for (int64_t i = first; i < last; ++i) d[i] = value(i);
        }
        block_sums[b] = sum_of_squares(source + first, last - first);
    }
}

}  // namespace normgrad
