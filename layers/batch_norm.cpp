// BatchNorm1d / BatchNorm2d: gamma, beta and the running statistics, given to the batch_norm
// operation (src/ops/batch_norm.cpp), which normalises and updates the running statistics.
#include "normgrad/layers/batch_norm.hpp"

#include <fmt/format.h>

#include "normgrad/autograd.hpp"
#include "normgrad/layer_registry.hpp"

namespace normgrad {

BatchNorm::BatchNorm(int64_t num_features, int spatial_rank, BatchNormOptions options)
    : num_features(num_features), options(options), expected_rank_(2 + spatial_rank) {
    if (num_features < 1)
        throw std::invalid_argument(
            fmt::format("BatchNorm: num_features must be positive, got {}", num_features));
    if (options.momentum && (*options.momentum < 0.f || *options.momentum > 1.f))
        throw std::invalid_argument(
            fmt::format("BatchNorm: momentum must lie in [0, 1], got {}", *options.momentum));
    if (!(options.eps > 0.f))
        throw std::invalid_argument(
            fmt::format("BatchNorm: eps must be positive, got {}", options.eps));
    if (options.affine) {
        gamma = register_parameter("weight", Tensor::ones({num_features}), true);
        beta = register_parameter("bias", Tensor::zeros({num_features}), true);
    }
    if (options.track_running_stats) {
        running_mean = register_buffer("running_mean", Tensor::zeros({num_features}));
        running_var = register_buffer("running_var", Tensor::ones({num_features}));
        num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}));
    }
}

Tensor BatchNorm::forward(const Tensor& x) {
    if (x.rank() != expected_rank_ || x.dim(1) != num_features)
        shape_error(kind(), fmt::format("expected input {} with {} channels, got {}",
                                        expected_rank_ == 2 ? "[N, C]" : "[N, C, H, W]",
                                        num_features, x.shape().str()));
    // Training: batch statistics, and the running ones updated. Evaluation: the running
    // statistics, or the batch's when there are none (track_running_stats = false).
    return batch_norm(x, gamma, beta, running_mean, running_var, num_batches_tracked, is_training(),
                      options.momentum, options.eps, &last_stats_, sync);
}

std::string BatchNorm::describe() const {
    return fmt::format("{}({}, eps {}, momentum {}{}{})", kind(), num_features, options.eps,
                       options.momentum ? fmt::format("{}", *options.momentum) : "none",
                       options.affine ? "" : ", affine off",
                       options.track_running_stats ? "" : ", no running stats");
}

LayerExample BatchNorm1d::example() {
    return {"BatchNorm1d", Shape({5, 3}), [](Rng&) { return std::make_shared<BatchNorm1d>(3); }};
}
LayerExample BatchNorm2d::example() {
    return {"BatchNorm2d", Shape({3, 2, 3, 2}),
            [](Rng&) { return std::make_shared<BatchNorm2d>(2); }};
}

}  // namespace normgrad
