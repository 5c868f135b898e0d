// Conv2d: a square-kernel 2-D convolution with optional bias (layers/conv2d.cpp). Part of
// layers.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "normgrad/layers/init.hpp"
#include "normgrad/module.hpp"
#include "normgrad/ops/conv2d.hpp"
#include "normgrad/random.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

class Conv2d : public Module {
  public:
    Conv2d(int64_t in_channels, int64_t out_channels, int kernel, Rng& rng, int stride = 1,
           int padding = 0, Init init = {}, bool bias = true);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "Conv2d"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
    int64_t in_channels, out_channels;
    int kernel;
    Conv2dParams params;
    Tensor weight, bias;  // [out, in, k, k], [out]
};

}  // namespace normgrad
