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
//
// ---- standardize_affine: y = xhat w + b in the same record ----
// With w and b seen as multiply_add sees them (src/ops/multiply_add.cpp), the k-th value of a
// row, of weight index q, is y_k = xhat_k w_q + b_q, and with g = dL/dy the two backwards run one
// after the other, dxhat never stored:
//   dxhat_k = g_k w_q                          (multiply_add's dx)
//   dL/dw_q = sum of g_k xhat_k, dL/db_q = sum of g_k, over every k of index q in every row
//   dL/dx_j = (1/s) [ dxhat_j - (1/K) sum_i dxhat_i - xhat_j (1/K) sum_i dxhat_i xhat_i ]
// and xhat_k = (x_k - mu) / s is recomputed from x, mu and 1/s per row instead of being saved.
// Per row, the backward is one pass over g and x (the row's two sums, and g xhat and g added to
// dw's and db's partial sums) and a second over the same row while it is in cache, writing dx:
// g and x read once from memory and dx written, against g, xhat and dxhat read twice in the two
// records. The forward reads x and writes y (and no xhat).
#include "normgrad/ops/standardize.hpp"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels/grad_buffer.hpp"
#include "kernels/standardize.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/multiply_add.hpp"
#include "ops/middle_broadcast.hpp"
#include "ops/output_grad.hpp"

namespace normgrad {

namespace {

// The length K of the rows standardised over the last `dims` axes, after checking the arguments.
int64_t row_length(const char* op, const Tensor& x, int dims, float eps) {
    if (dims < 1 || dims > x.rank())
        shape_error(op, fmt::format("dims must be 1 to the rank of the input {}, got {}",
                                    x.shape().str(), dims));
    if (!(eps >= 0.f) || !std::isfinite(eps))
        throw std::invalid_argument(
            fmt::format("{}: eps must be finite and at least 0, got {}", op, eps));
    int64_t K = 1;
    for (int i = x.rank() - dims; i < x.rank(); ++i) K *= x.dim(i);
    if (K == 0)
        shape_error(op,
                    fmt::format("the last {} axes of {} hold no elements", dims, x.shape().str()));
    return K;
}

}  // namespace

Tensor standardize(const Tensor& x, int dims, float eps) {
    const int64_t K = row_length("standardize", x, dims, eps);
    const int64_t rows = x.numel() / K;

    Tensor y = Tensor::empty(x.shape());
    auto invstd = std::make_shared<std::vector<float>>(static_cast<size_t>(rows));
    kernels::standardize::forward(x.data(), rows, K, eps, y.data(), invstd->data());

    if (autograd::needs_grad({&x})) {
        // Saved for backward: y (= the standardised rows) and 1/s per row (see the top).
        // (Each row's dx after that row's two sums, from its own g and y: dx may be written over
        // g, y's gradient; src/ops/output_grad.hpp.)
        autograd::record("standardize", {x}, y, [x, y, invstd, rows, K] {
            kernels::standardize::backward(y.data(), y.grad(), invstd->data(), rows, K,
                                           grad_buffer_over(x, y));
        });
    }
    return y;
}

Tensor standardize_affine(const Tensor& x, int dims, float eps, const Tensor& w, const Tensor& b) {
    const int64_t K = row_length("standardize_affine", x, dims, eps);
    const auto v =
        w.shape() == b.shape() ? detail::middle_broadcast(x.shape(), w.shape()) : std::nullopt;
    if (!v || K % v->R != 0 || v->Q % (K / v->R) != 0)
        return multiply_add(standardize(x, dims, eps), w, b);  // the composed form
    const kernels::standardize::AffineRows a{x.numel() / K, K, v->R, v->Q};

    Tensor y = Tensor::empty(x.shape());
    auto mean = std::make_shared<std::vector<float>>(static_cast<size_t>(a.rows));
    auto invstd = std::make_shared<std::vector<float>>(static_cast<size_t>(a.rows));
    kernels::standardize::forward_affine(x.data(), w.data(), b.data(), a, eps, y.data(),
                                         mean->data(), invstd->data());

    if (autograd::needs_grad({&x, &w, &b})) {
        // Saved for backward: x, w, and mu and 1/s per row (see the top).
        autograd::record("standardize_affine", {x, w, b}, y, [x, w, b, y, mean, invstd, a] {
            const bool sums = w.requires_grad() || b.requires_grad();
            std::vector<double> sw(sums ? static_cast<size_t>(a.Q) : 0), sb(sw.size());
            // (As in standardize: a row's sums, dw's and db's parts included, before its dx.)
            const GradBuffer dx =
                x.requires_grad() ? grad_buffer_over(x, y) : GradBuffer{nullptr, false};
            kernels::standardize::backward_affine(x.data(), y.grad(), w.data(), mean->data(),
                                                  invstd->data(), a, dx, sums ? sw.data() : nullptr,
                                                  sb.data());
            const double *swp = sw.data(), *sbp = sb.data();
            if (w.requires_grad())
                write_grad(grad_buffer(w), a.Q, [=](int64_t q) { return float(swp[q]); });
            if (b.requires_grad())
                write_grad(grad_buffer(b), a.Q, [=](int64_t q) { return float(sbp[q]); });
        });
    }
    return y;
}

}  // namespace normgrad
