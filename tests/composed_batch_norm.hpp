// BatchNorm written with the general operations only: the worked example of docs/batchnorm.md
// ("BatchNorm from the general operations"), which quotes this function (tests/test_docs.cpp
// checks the quote). No backward is written: the tape differentiates the operations it is made
// of. tests/test_composed_batch_norm.cpp checks that it computes what the fast batch_norm
// operation (src/ops/batch_norm.cpp) computes: outputs, the three gradients, running statistics.
#pragma once

#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/reduce.hpp"
#include "normgrad/ops/reshape.hpp"
#include "normgrad/ops/unary.hpp"

namespace normgrad::composed {

// x: [N, C] or [N, C, H, W]; gamma, beta, running_mean, running_var: [C].
// Training: normalise with the batch's mean and biased variance over N (and H, W), and update the
// running statistics as PyTorch does, with the *unbiased* variance. Evaluation: normalise with
// the running statistics.
inline Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                         const Tensor& running_mean, const Tensor& running_var, bool training,
                         float momentum = 0.1f, float eps = 1e-5f) {
    const int64_t C = x.dim(1);
    // Every axis but the channels'; the statistics keep them as size 1 ([1, C] or [1, C, 1, 1])
    // so that they broadcast against x, and so must gamma and beta.
    const std::vector<int> axes = x.rank() == 4 ? std::vector<int>{0, 2, 3} : std::vector<int>{0};
    const Shape per_channel = x.rank() == 4 ? Shape{1, C, 1, 1} : Shape{1, C};

    Tensor mu, variance;
    if (training) {
        mu = mean(x, axes, /*keepdim=*/true);
        variance = var(x, axes, /*unbiased=*/false, /*keepdim=*/true);
        // running = (1 - momentum) running + momentum batch, off the tape (to the block's end).
        autograd::NoGradGuard no_grad;
        const Tensor unbiased_var = var(x, axes, /*unbiased=*/true);
        running_mean.copy_from(
            add(scale(running_mean, 1.f - momentum), scale(reshape(mu, {C}), momentum)));
        running_var.copy_from(
            add(scale(running_var, 1.f - momentum), scale(unbiased_var, momentum)));
    } else {
        mu = reshape(running_mean, per_channel);
        variance = reshape(running_var, per_channel);
    }
    const Tensor xhat = mul(sub(x, mu), rsqrt(add_scalar(variance, eps)));
    return add(mul(xhat, reshape(gamma, per_channel)), reshape(beta, per_channel));
}

}  // namespace normgrad::composed
