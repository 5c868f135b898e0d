// Elementwise functions of one tensor: exp, log, sqrt, rsqrt, pow by a scalar, abs.
#include "normgrad/ops/unary.hpp"

#include <cmath>

#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"

namespace normgrad {

namespace {

// y_i = f(x_i), the values computed in one loop.
template <class F>
Tensor map_values(const Tensor& x, F f) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = y.numel();
    const float* xp = x.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = f(xp[i]);
    return y;
}

// dL/dx_i = local(x_i, y_i) * dy_i, where local is dy/dx at x_i (given y_i = f(x_i) as well,
// since some derivatives are cheapest written with the result).
template <class Local>
void record_unary(const char* op, const Tensor& x, const Tensor& y, Local local) {
    autograd::record(op, {x}, y, [x, y, local] {
        const float *dy = y.grad(), *xv = x.data(), *yv = y.data();
        write_grad(grad_buffer(x), x.numel(),
                   [=](int64_t i) { return local(xv[i], yv[i]) * dy[i]; });
    });
}

}  // namespace

Tensor exp(const Tensor& x) {
    Tensor y = map_values(x, [](float v) { return std::exp(v); });
    // y = e^x: dy/dx = e^x = y.
    if (autograd::needs_grad({&x})) record_unary("exp", x, y, [](float, float e) { return e; });
    return y;
}

Tensor log(const Tensor& x) {
    Tensor y = map_values(x, [](float v) { return std::log(v); });
    // y = ln x: dy/dx = 1 / x.
    if (autograd::needs_grad({&x}))
        record_unary("log", x, y, [](float v, float) { return 1.f / v; });
    return y;
}

Tensor sqrt(const Tensor& x) {
    Tensor y = map_values(x, [](float v) { return std::sqrt(v); });
    // y = x^(1/2): dy/dx = (1/2) x^(-1/2) = 1 / (2 sqrt x) = 1 / (2 y).
    if (autograd::needs_grad({&x}))
        record_unary("sqrt", x, y, [](float, float r) { return 0.5f / r; });
    return y;
}

Tensor rsqrt(const Tensor& x) {
    Tensor y = map_values(x, [](float v) { return 1.f / std::sqrt(v); });
    // y = x^(-1/2): dy/dx = -(1/2) x^(-3/2) = -1 / (2 x^(3/2)), and x^(-3/2) = y^3.
    if (autograd::needs_grad({&x}))
        record_unary("rsqrt", x, y, [](float, float r) { return -0.5f * r * r * r; });
    return y;
}

// With exponent 0 the result is all 1s and the gradient 0, also at x = 0 (where
// 0 * x^-1 would be NaN), as PyTorch's.
Tensor pow(const Tensor& x, float exponent) {
    Tensor y = map_values(x, [exponent](float v) { return std::pow(v, exponent); });
    // y = x^p: dy/dx = p x^(p-1).
    if (autograd::needs_grad({&x}))
        record_unary("pow", x, y, [exponent](float v, float) {
            return exponent == 0.f ? 0.f : exponent * std::pow(v, exponent - 1.f);
        });
    return y;
}

Tensor abs(const Tensor& x) {
    Tensor y = map_values(x, [](float v) { return std::abs(v); });
    // y = |x|: dy/dx = sign(x), 1 for x > 0 and -1 for x < 0; at the kink x = 0 we take 0.
    if (autograd::needs_grad({&x}))
        record_unary("abs", x, y, [](float v, float) {
            return v > 0.f ? 1.f : v < 0.f ? -1.f : 0.f;
        });
    return y;
}

}  // namespace normgrad
