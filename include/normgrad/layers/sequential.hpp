// Sequential: runs its children in order (layers/simple.cpp). Part of layers.hpp.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "normgrad/module.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

class Sequential : public Module {
  public:
    Sequential& add(const std::string& name, std::shared_ptr<Module> m);
    template <class M, class... Args>
    Sequential& emplace(const std::string& name, Args&&... args) {
        return add(name, std::make_shared<M>(std::forward<Args>(args)...));
    }
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "Sequential"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
};

}  // namespace normgrad
