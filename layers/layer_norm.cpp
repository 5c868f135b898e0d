// LayerNorm from the general operations: no backward of its own, the tape differentiates it.
// (tests/composed_norms.hpp keeps its first form, from mean, var and rsqrt, which a test checks
// it against.)
#include "normgrad/layers/layer_norm.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

#include "normalized_shape.hpp"
#include "normgrad/layer_registry.hpp"
#include "normgrad/ops/standardize.hpp"

namespace normgrad {

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape_, float eps_, bool affine)
    : normalized_shape(std::move(normalized_shape_)), eps(eps_) {
    detail::check_norm_settings("LayerNorm", normalized_shape, eps);
    if (affine) {
        weight = register_parameter("weight", Tensor::ones(Shape(normalized_shape)), true);
        bias = register_parameter("bias", Tensor::zeros(Shape(normalized_shape)), true);
    }
}

Tensor LayerNorm::forward(const Tensor& x) {
    const std::vector<int> axes = detail::trailing_axes(kind(), normalized_shape, x);

    // One tape record: standardize over the normalised axes, then xhat * weight + bias, which
    // broadcast along the leading dimensions (standardize_affine is
    // multiply_add(standardize(x), weight, bias) in one record; without affine, standardize).
    const int dims = static_cast<int>(axes.size());
    if (!weight.defined()) return standardize(x, dims, eps);
    return standardize_affine(x, dims, eps, weight, bias);
}

std::string LayerNorm::describe() const {
    return fmt::format("LayerNorm([{}], eps {}{})", fmt::join(normalized_shape, ", "), eps,
                       weight.defined() ? "" : ", affine off");
}

LayerExample LayerNorm::example() {
    return {"LayerNorm", Shape({2, 3, 4}), [](Rng&) {
                return std::make_shared<LayerNorm>(std::vector<int64_t>{3, 4});
            }};
}

}  // namespace normgrad
