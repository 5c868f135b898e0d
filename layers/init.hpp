// Weight initialisation shared by Dense and Conv2d (the choices: include/normgrad/layers/init.hpp).
#pragma once

#include <cmath>

#include "normgrad/layers/init.hpp"
#include "normgrad/tensor.hpp"

namespace normgrad::detail {

// `shape` is [out, in] or [out, in, k, k], so fan_out = numel / in.
// PyTorch's default for Linear and Conv: kaiming_uniform_(w, a=sqrt(5)) gives the bound
// gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a^2)) = sqrt(1/3), that is 1 / sqrt(fan_in);
// the bias is drawn from the same U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
inline Tensor init_weight(const Shape& shape, int64_t fan_in, Rng& rng, const Init& init) {
    switch (init.kind) {
        case Init::Kind::Normal:
            return Tensor::randn(shape, rng, 0.f, init.std);
        case Init::Kind::He:
            return Tensor::randn(shape, rng, 0.f, std::sqrt(2.f / static_cast<float>(fan_in)));
        case Init::Kind::Xavier: {
            const int64_t fan_out = shape.numel() / shape[1];
            const float a = std::sqrt(6.f / static_cast<float>(fan_in + fan_out));
            return Tensor::uniform(shape, rng, -a, a);
        }
        case Init::Kind::PyTorchDefault:
            break;
    }
    const float bound = 1.f / std::sqrt(static_cast<float>(fan_in));
    return Tensor::uniform(shape, rng, -bound, bound);
}

inline Tensor init_bias(int64_t n, int64_t fan_in, Rng& rng, const Init& init) {
    if (init.kind != Init::Kind::PyTorchDefault) return Tensor::zeros({n});
    const float bound = 1.f / std::sqrt(static_cast<float>(fan_in));
    return Tensor::uniform({n}, rng, -bound, bound);
}

}  // namespace normgrad::detail
