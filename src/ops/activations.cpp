// Elementwise activations. Each backward uses the saved output where that is cheaper.
//
// The loops are written so that the compiler can vectorise them: both operands of a select are
// loaded unconditionally (`g` below), so `c ? g : 0` becomes a compare and a mask instead of a
// branch per element.
#include <cmath>

#include "kernels/grad_buffer.hpp"
#include "kernels/parallel.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/activations.hpp"
#include "ops/output_grad.hpp"

namespace normgrad {

namespace {

// dx = value(i) for the activation's input x (written, or added where x already has a
// gradient: see grad_buffer.hpp). value(i) reads dy[i] and the saved values at i alone, so dx may
// be written over dy, y's gradient (grad_buffer_over).
template <class F>
void write_input_grad(const Tensor& x, const Tensor& y, int64_t n, F value) {
    write_grad(grad_buffer_over(x, y), n, value);
}

}  // namespace

using kernels::min_parallel_elements;

Tensor relu(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* xp = x.data();
    float* yp = y.data();
    kernels::write_elements(yp, n, false, [=](int64_t i) { return xp[i] > 0.f ? xp[i] : 0.f; });
    if (autograd::needs_grad({&x})) {
        // y = max(x, 0): dy/dx = 1 where x > 0, else 0 (PyTorch also takes 0 at x == 0).
        // y > 0 exactly where x > 0, so the output is all backward needs.
        autograd::record("relu", {x}, y, [x, y, n] {
            const float *dy = y.grad(), *yv = y.data();
            write_input_grad(x, y, n, [=](int64_t i) {
                const float g = dy[i];
                return yv[i] > 0.f ? g : 0.f;
            });
        });
    }
    return y;
}

Tensor leaky_relu(const Tensor& x, float negative_slope) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* xp = x.data();
    float* yp = y.data();
    kernels::write_elements(
        yp, n, false, [=](int64_t i) { return xp[i] > 0.f ? xp[i] : negative_slope * xp[i]; });
    if (autograd::needs_grad({&x})) {
        // y = x for x > 0, s x otherwise: dy/dx = 1 or s.
        autograd::record("leaky_relu", {x}, y, [x, y, n, negative_slope] {
            const float *dy = y.grad(), *xv = x.data();
            write_input_grad(x, y, n, [=](int64_t i) {
                const float g = dy[i];
                return xv[i] > 0.f ? g : negative_slope * g;
            });
        });
    }
    return y;
}

Tensor sigmoid(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* xp = x.data();
    float* yp = y.data();
#pragma omp parallel for schedule(static) if (n >= min_parallel_elements())
    for (int64_t i = 0; i < n; ++i) yp[i] = 1.f / (1.f + std::exp(-xp[i]));
    if (autograd::needs_grad({&x})) {
        // y = 1 / (1 + e^-x): dy/dx = y (1 - y).
        autograd::record("sigmoid", {x}, y, [x, y, n] {
            const float *dy = y.grad(), *yv = y.data();
            write_input_grad(x, y, n, [=](int64_t i) { return dy[i] * yv[i] * (1.f - yv[i]); });
        });
    }
    return y;
}

Tensor tanh(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* xp = x.data();
    float* yp = y.data();
#pragma omp parallel for schedule(static) if (n >= min_parallel_elements())
    for (int64_t i = 0; i < n; ++i) yp[i] = std::tanh(xp[i]);
    if (autograd::needs_grad({&x})) {
        // y = tanh x: dy/dx = 1 - y^2.
        autograd::record("tanh", {x}, y, [x, y, n] {
            const float *dy = y.grad(), *yv = y.data();
            write_input_grad(x, y, n, [=](int64_t i) { return dy[i] * (1.f - yv[i] * yv[i]); });
        });
    }
    return y;
}

}  // namespace normgrad
