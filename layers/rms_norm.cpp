// RMSNorm from the general operations: no backward of its own, the tape differentiates it.
#include "normgrad/layers/rms_norm.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

#include "normalized_shape.hpp"
#include "normgrad/layer_registry.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/reduce.hpp"
#include "normgrad/ops/unary.hpp"

namespace normgrad {

RMSNorm::RMSNorm(std::vector<int64_t> normalized_shape_, float eps_, bool affine)
    : normalized_shape(std::move(normalized_shape_)), eps(eps_) {
    detail::check_norm_settings("RMSNorm", normalized_shape, eps);
    if (affine) weight = register_parameter("weight", Tensor::ones(Shape(normalized_shape)), true);
}

Tensor RMSNorm::forward(const Tensor& x) {
    const std::vector<int> axes = detail::trailing_axes(kind(), normalized_shape, x);

    // Six tape records with affine (five without): mul (the square), mean, add_scalar, rsqrt,
    // mul, and mul by weight, which broadcasts along the leading dimensions.
    const Tensor mean_square = mean(mul(x, x), axes, /*keepdim=*/true);
    const Tensor normalised = mul(x, rsqrt(add_scalar(mean_square, eps)));
    return weight.defined() ? mul(normalised, weight) : normalised;
}

std::string RMSNorm::describe() const {
    return fmt::format("RMSNorm([{}], eps {}{})", fmt::join(normalized_shape, ", "), eps,
                       weight.defined() ? "" : ", affine off");
}

LayerExample RMSNorm::example() {
    return {"RMSNorm", Shape({3, 5}),
            [](Rng&) { return std::make_shared<RMSNorm>(std::vector<int64_t>{5}); }};
}

}  // namespace normgrad
