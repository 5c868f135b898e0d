// LayerNorm, as torch.nn.LayerNorm (layers/layer_norm.cpp). Part of layers.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgrad/module.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

// Normalises each example over its last len(normalized_shape) dimensions, which must equal
// normalized_shape: y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and the
// *biased* variance (divided by n) of those dimensions. Unlike BatchNorm the statistics are the
// example's own, so training and evaluation compute the same thing and there are no running
// statistics. With affine, "weight" (ones) and "bias" (zeros) have shape normalized_shape, one
// value per normalised element.
class LayerNorm : public Module {
  public:
    LayerNorm(std::vector<int64_t> normalized_shape, float eps = 1e-5f, bool affine = true);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "LayerNorm"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
    std::vector<int64_t> normalized_shape;
    float eps;
    Tensor weight, bias;  // normalized_shape each (undefined without affine)
};

}  // namespace normgrad
