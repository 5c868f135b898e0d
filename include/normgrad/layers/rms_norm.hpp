// RMSNorm (layers/rms_norm.cpp). Part of layers.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgrad/module.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

// Root-mean-square normalisation (Zhang and Sennrich, 2019) over the last
// len(normalized_shape) dimensions, which must equal normalized_shape:
//     y = x / sqrt(mean(x^2) + eps) * weight
// No mean is subtracted and there is no bias; "weight" (ones) has shape normalized_shape.
//
// eps defaults to 1e-6, the value of the T5 and LLaMA implementations that made the layer common.
// torch.nn.RMSNorm (PyTorch 2.4 and later) defaults to eps=None, which means
// torch.finfo(dtype).eps, about 1.19e-7 for float32: pass that value to match it. eps only
// matters when mean(x^2) is close to it.
class RMSNorm : public Module {
  public:
    RMSNorm(std::vector<int64_t> normalized_shape, float eps = 1e-6f, bool affine = true);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "RMSNorm"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
    std::vector<int64_t> normalized_shape;
    float eps;
    Tensor weight;  // normalized_shape (undefined without affine)
};

}  // namespace normgrad
