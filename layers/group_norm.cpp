// GroupNorm from the general operations: no backward of its own, the tape differentiates it.
// (tests/composed_norms.hpp keeps its first form, from mean, var and rsqrt, which a test checks
// it against.)
#include "normgrad/layers/group_norm.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <vector>

#include "normgrad/layer_registry.hpp"
#include "normgrad/ops/reshape.hpp"
#include "normgrad/ops/standardize.hpp"

namespace normgrad {

GroupNorm::GroupNorm(int64_t groups_, int64_t channels_, float eps_, bool affine)
    : groups(groups_), channels(channels_), eps(eps_) {
    if (groups < 1 || channels < 1)
        throw std::invalid_argument(fmt::format(
            "GroupNorm: groups and channels must be positive, got {} groups, {} channels", groups,
            channels));
    if (channels % groups != 0)
        throw std::invalid_argument(fmt::format(
            "GroupNorm: channels ({}) must be divisible by groups ({})", channels, groups));
    if (!(eps > 0.f))
        throw std::invalid_argument(fmt::format("GroupNorm: eps must be positive, got {}", eps));
    if (affine) {
        weight = register_parameter("weight", Tensor::ones({channels}), true);
        bias = register_parameter("bias", Tensor::zeros({channels}), true);
    }
}

Tensor GroupNorm::forward(const Tensor& x) {
    if (x.rank() < 2 || x.dim(1) != channels)
        shape_error(kind(), fmt::format("expected input [N, {}, ...] ({} channels), got {}",
                                        channels, channels, x.shape().str()));
    // Each example's group as one row: x viewed as [N, groups, C / groups, H * W], its last two
    // axes consecutive in memory. The sizes come from the shape, not from numel() / N, so that an
    // empty batch (N = 0) gives an empty output, as PyTorch's GroupNorm does.
    int64_t spatial = 1;
    for (int i = 2; i < x.rank(); ++i) spatial *= x.dim(i);
    const int64_t per_group = channels / groups;
    const Tensor rows = reshape(x, Shape{x.dim(0), groups, per_group, spatial});
    if (!weight.defined()) return reshape(standardize(rows, 2, eps), x.shape());

    // Five tape records with affine (three without): reshape, then weight and bias each reshaped
    // to [groups, C / groups, 1] (one value per channel, for each group's row), standardize_affine
    // (multiply_add(standardize(rows), weight, bias) in one record), and the reshape back.
    const Shape s{groups, per_group, 1};
    return reshape(standardize_affine(rows, 2, eps, reshape(weight, s), reshape(bias, s)),
                   x.shape());
}

std::string GroupNorm::describe() const {
    return fmt::format("GroupNorm({} groups, {} channels, eps {}{})", groups, channels, eps,
                       weight.defined() ? "" : ", affine off");
}

LayerExample GroupNorm::example() {
    return {"GroupNorm", Shape({2, 4, 2, 3}),
            [](Rng&) { return std::make_shared<GroupNorm>(2, 4); }};
}

}  // namespace normgrad
