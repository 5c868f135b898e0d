// Full reductions to a scalar: sum and mean. Accumulated in double so large tensors stay exact.
#include "normgrad/ops/reduce.hpp"
#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"

namespace normgrad {

namespace {

double total(const Tensor& x) {
    double s = 0.0;
    const float* p = x.data();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) s += p[i];
    return s;
}

// Shared backward of sum (factor 1) and mean (factor 1/n): every input gets factor * dy.
void spread(const Tensor& x, float dy_times_factor) {
    write_grad(grad_buffer(x), x.numel(), [=](int64_t) { return dy_times_factor; });
}

}  // namespace

Tensor sum(const Tensor& x) {
    Tensor y = Tensor::scalar(static_cast<float>(total(x)));
    if (autograd::needs_grad({&x})) {
        // y = sum_i x_i: dy/dx_i = 1.
        autograd::record("sum", {x}, y, [x, y] { spread(x, y.grad()[0]); });
    }
    return y;
}

Tensor mean(const Tensor& x) {
    if (x.numel() == 0) shape_error("mean", "the mean of an empty tensor is undefined");
    const auto n = static_cast<double>(x.numel());
    Tensor y = Tensor::scalar(static_cast<float>(total(x) / n));
    if (autograd::needs_grad({&x})) {
        // y = (1/n) sum_i x_i: dy/dx_i = 1/n.
        autograd::record("mean", {x}, y,
                         [x, y, n] { spread(x, static_cast<float>(y.grad()[0] / n)); });
    }
    return y;
}

}  // namespace normgrad
