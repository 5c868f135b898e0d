// Elementwise activations. Each backward uses the saved output where that is cheaper.
#include <cmath>

#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"

namespace normgrad {

Tensor relu(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* xp = x.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] > 0.f ? xp[i] : 0.f;
    if (autograd::needs_grad({&x})) {
        // y = max(x, 0): dy/dx = 1 where x > 0, else 0 (PyTorch also takes 0 at x == 0).
        // y > 0 exactly where x > 0, so the output is all backward needs.
        autograd::record("relu", {x}, y, [x, y, n] {
            const float *dy = y.grad(), *yv = y.data();
            float* dx = x.mutable_grad();
            for (int64_t i = 0; i < n; ++i) dx[i] += yv[i] > 0.f ? dy[i] : 0.f;
        });
    }
    return y;
}

Tensor leaky_relu(const Tensor& x, float negative_slope) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* xp = x.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] > 0.f ? xp[i] : negative_slope * xp[i];
    if (autograd::needs_grad({&x})) {
        // y = x for x > 0, s x otherwise: dy/dx = 1 or s.
        autograd::record("leaky_relu", {x}, y, [x, y, n, negative_slope] {
            const float *dy = y.grad(), *xv = x.data();
            float* dx = x.mutable_grad();
            for (int64_t i = 0; i < n; ++i) dx[i] += xv[i] > 0.f ? dy[i] : negative_slope * dy[i];
        });
    }
    return y;
}

Tensor sigmoid(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* xp = x.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = 1.f / (1.f + std::exp(-xp[i]));
    if (autograd::needs_grad({&x})) {
        // y = 1 / (1 + e^-x): dy/dx = y (1 - y).
        autograd::record("sigmoid", {x}, y, [x, y, n] {
            const float *dy = y.grad(), *yv = y.data();
            float* dx = x.mutable_grad();
            for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * yv[i] * (1.f - yv[i]);
        });
    }
    return y;
}

Tensor tanh(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* xp = x.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = std::tanh(xp[i]);
    if (autograd::needs_grad({&x})) {
        // y = tanh x: dy/dx = 1 - y^2.
        autograd::record("tanh", {x}, y, [x, y, n] {
            const float *dy = y.grad(), *yv = y.data();
            float* dx = x.mutable_grad();
            for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * (1.f - yv[i] * yv[i]);
        });
    }
    return y;
}

}  // namespace normgrad
