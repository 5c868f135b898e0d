// Residual: y = body(x) + shortcut(x) (layers/residual.cpp). Part of layers.hpp.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "normgrad/module.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

// A residual block, as in ResNet: the body's layers run in order, and the block's input is added
// to their output through the shortcut, the identity or, when given, a projection (typically a
// 1x1 Conv2d, or a Dense) that maps the input to the body's output shape.
//
// The body's layers are children of the Residual under their own names, and the projection is
// the child "proj": in a Sequential where this block is "res1", the parameter names are
// "res1.conv1.weight", ..., "res1.proj.weight". Throws std::invalid_argument for an empty body, a
// null layer or a name used twice (the body may not name a layer "proj" when there is a
// projection); forward throws ShapeError when body(x) and the shortcut differ in shape.
class Residual : public Module {
  public:
    using Layers = std::vector<std::pair<std::string, std::shared_ptr<Module>>>;
    explicit Residual(Layers body, std::shared_ptr<Module> projection = nullptr);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "Residual"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)

    // The body's layers in order, with their names (children() is these, then "proj").
    const Layers& body() const { return body_; }
    // The shortcut's projection; null for the identity shortcut.
    const std::shared_ptr<Module>& projection() const { return projection_; }

  private:
    Layers body_;
    std::shared_ptr<Module> projection_;
};

}  // namespace normgrad
