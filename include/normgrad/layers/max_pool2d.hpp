// MaxPool2d (layers/simple.cpp). Part of layers.hpp.
#pragma once

#include <string>

#include "normgrad/module.hpp"
#include "normgrad/ops/max_pool2d.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

class MaxPool2d : public Module {
  public:
    explicit MaxPool2d(int kernel, int stride = 0, int padding = 0)
        : params{kernel, stride, padding} {}
    Tensor forward(const Tensor& x) override { return max_pool2d(x, params); }
    std::string kind() const override { return "MaxPool2d"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
    Pool2dParams params;
};

}  // namespace normgrad
