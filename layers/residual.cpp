// Residual: the body's layers in order, plus the shortcut, added with the tape's `add`. The
// backward comes from add's: the block's output gradient reaches both branches whole, and the
// input, used by both, receives the sum of the two (the tape adds gradients of a tensor used
// twice), dL/dx = dL/dx through the body + dL/dx through the shortcut (dL/dy itself for the
// identity), which is why deep residual networks keep a gradient at their first layers.
#include "normgrad/layers/residual.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "normgrad/layer_registry.hpp"
#include "normgrad/layers/activations.hpp"
#include "normgrad/layers/conv2d.hpp"
#include "normgrad/ops/elementwise.hpp"

namespace normgrad {

Residual::Residual(Layers body, std::shared_ptr<Module> projection)
    : body_(std::move(body)), projection_(std::move(projection)) {
    if (body_.empty())
        throw std::invalid_argument("Residual: the body is empty (give it at least one layer)");
    for (const auto& [name, layer] : body_) {
        if (!layer) throw std::invalid_argument(fmt::format("Residual: layer '{}' is null", name));
        register_module(name, layer);  // throws for a name used twice
    }
    if (projection_) register_module("proj", projection_);
}

Tensor Residual::forward(const Tensor& x) {
    Tensor h = x;
    for (const auto& [name, layer] : body_) h = (*layer)(h);
    const Tensor shortcut = projection_ ? (*projection_)(x) : x;
    if (h.shape() != shortcut.shape())
        shape_error("Residual",
                    projection_
                        ? fmt::format("the body's output {} and the projection's output {} "
                                      "differ in shape (input {}): the projection must map the "
                                      "input to the body's output shape",
                                      h.shape().str(), shortcut.shape().str(), x.shape().str())
                        : fmt::format("the body's output {} and the identity shortcut (the input) "
                                      "{} differ in shape: a projection is needed (e.g. a 1x1 "
                                      "Conv2d or a Dense) to map the input to the body's output",
                                      h.shape().str(), shortcut.shape().str()));
    return add(h, shortcut);
}

std::string Residual::describe() const {
    std::string s = "Residual(\n";
    for (const auto& [name, layer] : body_) s += fmt::format("  {}: {}\n", name, layer->describe());
    s += projection_ ? fmt::format("  proj: {}\n", projection_->describe())
                     : std::string("  shortcut: identity\n");
    return s + ")";
}

// Both kinds of shortcut in one example: a block whose body changes the channels (2 -> 3),
// with a 1x1 Conv2d projection, and inside its body a block with the identity shortcut.
// (tests/test_residual.cpp checks a Dense block with the identity shortcut on its own.)
LayerExample Residual::example() {
    return {"Residual", Shape({2, 2, 3, 3}), [](Rng& rng) {
                auto inner = std::make_shared<Residual>(
                    Layers{{"conv2", std::make_shared<Conv2d>(3, 3, 3, rng, 1, 1)}});
                return std::make_shared<Residual>(
                    Layers{{"conv1", std::make_shared<Conv2d>(2, 3, 3, rng, 1, 1)},
                           {"act1", std::make_shared<Tanh>()},
                           {"inner", inner}},
                    std::make_shared<Conv2d>(2, 3, 1, rng));
            }};
}

}  // namespace normgrad
