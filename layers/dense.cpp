// Dense (fully connected): y = x w^T + b.
#include "normgrad/layers/dense.hpp"

#include <fmt/format.h>

#include "init.hpp"
#include "normgrad/layer_registry.hpp"
#include "normgrad/ops/matmul.hpp"

namespace normgrad {

Dense::Dense(int64_t in, int64_t out, Rng& rng, Init init, bool bias)
    : in_features(in), out_features(out) {
    if (in < 1 || out < 1)
        throw std::invalid_argument(
            fmt::format("Dense: sizes must be positive, got {} -> {}", in, out));
    weight = register_parameter("weight", detail::init_weight({out, in}, in, rng, init));
    if (bias) this->bias = register_parameter("bias", detail::init_bias(out, in, rng, init), true);
}

Tensor Dense::forward(const Tensor& x) {
    return linear(x, weight, bias);
}

std::string Dense::describe() const {
    return fmt::format("Dense({} -> {})", in_features, out_features);
}

LayerExample Dense::example() {
    return {"Dense", Shape({4, 5}), [](Rng& rng) { return std::make_shared<Dense>(5, 3, rng); }};
}

}  // namespace normgrad
