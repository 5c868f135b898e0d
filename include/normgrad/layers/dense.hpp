// Dense (fully connected): y = x w^T + b (layers/dense.cpp). Part of layers.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "normgrad/layers/init.hpp"
#include "normgrad/module.hpp"
#include "normgrad/random.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

class Dense : public Module {
  public:
    Dense(int64_t in, int64_t out, Rng& rng, Init init = {}, bool bias = true);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "Dense"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
    int64_t in_features, out_features;
    Tensor weight, bias;  // [out, in], [out] (bias undefined when disabled)
};

}  // namespace normgrad
