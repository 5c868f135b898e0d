// Standardisation of each row over its last dimensions, with its backward.
//
// x is viewed as rows of K values (K the product of the last `dims` sizes). For one row:
//
//   mu     = (1/K) sum_i x_i
//   var    = (1/K) sum_i (x_i - mu)^2       (biased, as normalisations use)
//   s      = sqrt(var + eps)
//   y_i    = (x_i - mu) / s
//
// ---- Backward ----
// This is BatchNorm's derivation (src/ops/batch_norm.cpp, docs/batchnorm.md section 4) with the
// row in place of the channel, and gamma = 1. With g_i = dL/dy_i, each x_j reaches the loss
// directly through y_j, through mu and through var:
//   dL/dx_j = (1/s) [ g_j  -  (1/K) sum_i g_i  -  y_j (1/K) sum_i g_i y_i ]
//                     (1)        (2)                   (3)
// Term (2) is the path through the mean (every y_i moves by -1/s when mu does, and mu moves by
// 1/K when x_j does); term (3) the path through the variance (dvar/dx_j = 2 (x_j - mu) / K, and
// dy_i/dvar = -(x_i - mu) / (2 s^3)). Backward is one pass forming the two sums of the row and
// one writing dx, from y (which is saved) and 1/s per row; x itself is not needed.
#include "normgrad/ops/standardize.hpp"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels/grad_buffer.hpp"
#include "kernels/standardize.hpp"
#include "normgrad/autograd.hpp"

namespace normgrad {

Tensor standardize(const Tensor& x, int dims, float eps) {
    if (dims < 1 || dims > x.rank())
        shape_error("standardize", fmt::format("dims must be 1 to the rank of the input {}, got {}",
                                               x.shape().str(), dims));
    if (!(eps >= 0.f) || !std::isfinite(eps))
        throw std::invalid_argument(
            fmt::format("standardize: eps must be finite and at least 0, got {}", eps));
    int64_t K = 1;
    for (int i = x.rank() - dims; i < x.rank(); ++i) K *= x.dim(i);
    if (K == 0)
        shape_error("standardize",
                    fmt::format("the last {} axes of {} hold no elements", dims, x.shape().str()));
    const int64_t rows = x.numel() / K;

    Tensor y = Tensor::empty(x.shape());
    auto invstd = std::make_shared<std::vector<float>>(static_cast<size_t>(rows));
    kernels::standardize::forward(x.data(), rows, K, eps, y.data(), invstd->data());

    if (autograd::needs_grad({&x})) {
        // Saved for backward: y (= the standardised rows) and 1/s per row (see the top).
        autograd::record("standardize", {x}, y, [x, y, invstd, rows, K] {
            kernels::standardize::backward(y.data(), y.grad(), invstd->data(), rows, K,
                                           grad_buffer(x));
        });
    }
    return y;
}

}  // namespace normgrad
