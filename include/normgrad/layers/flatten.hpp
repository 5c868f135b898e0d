// Flatten: [N, ...] -> [N, rest] (its example in layers/simple.cpp). Part of layers.hpp.
#pragma once

#include <string>

#include "normgrad/module.hpp"
#include "normgrad/ops/reshape.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

class Flatten : public Module {
  public:
    Tensor forward(const Tensor& x) override { return flatten(x); }
    std::string kind() const override { return "Flatten"; }
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
};

}  // namespace normgrad
