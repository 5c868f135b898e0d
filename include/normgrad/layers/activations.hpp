// The activation layers ReLU, Sigmoid and Tanh (their examples in layers/simple.cpp). Part of
// layers.hpp.
#pragma once

#include <string>

#include "normgrad/module.hpp"
#include "normgrad/ops/activations.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

class ReLU : public Module {
  public:
    Tensor forward(const Tensor& x) override { return relu(x); }
    std::string kind() const override { return "ReLU"; }
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
};

class Sigmoid : public Module {
  public:
    Tensor forward(const Tensor& x) override { return sigmoid(x); }
    std::string kind() const override { return "Sigmoid"; }
    static LayerExample example();
};

class Tanh : public Module {
  public:
    Tensor forward(const Tensor& x) override { return normgrad::tanh(x); }
    std::string kind() const override { return "Tanh"; }
    static LayerExample example();
};

}  // namespace normgrad
