// The parameter-free layers (defined inline in layers.hpp) and Sequential.
#include <fmt/format.h>

#include "normgrad/layer_registry.hpp"
#include "normgrad/layers.hpp"

namespace normgrad {

std::string MaxPool2d::describe() const {
    return fmt::format("MaxPool2d({}x{}, stride {}, padding {})", params.kernel, params.kernel,
                       params.stride == 0 ? params.kernel : params.stride, params.padding);
}

Sequential& Sequential::add(const std::string& name, std::shared_ptr<Module> m) {
    register_module(name, std::move(m));
    return *this;
}

Tensor Sequential::forward(const Tensor& x) {
    Tensor h = x;
    for (const auto& [name, m] : children()) h = (*m)(h);
    return h;
}

std::string Sequential::describe() const {
    std::string s = "Sequential(\n";
    for (const auto& [name, m] : children()) s += fmt::format("  {}: {}\n", name, m->describe());
    return s + ")";
}

NORMGRAD_REGISTER_LAYER(ReLU, Shape({3, 4}), [](Rng&) { return std::make_shared<ReLU>(); });
NORMGRAD_REGISTER_LAYER(Sigmoid, Shape({3, 4}), [](Rng&) { return std::make_shared<Sigmoid>(); });
NORMGRAD_REGISTER_LAYER(Tanh, Shape({3, 4}), [](Rng&) { return std::make_shared<Tanh>(); });
NORMGRAD_REGISTER_LAYER(Flatten, Shape({2, 3, 2, 2}),
                        [](Rng&) { return std::make_shared<Flatten>(); });
NORMGRAD_REGISTER_LAYER(MaxPool2d, Shape({2, 2, 5, 5}),
                        [](Rng&) { return std::make_shared<MaxPool2d>(2); });
NORMGRAD_REGISTER_LAYER(Sequential, Shape({4, 5}), [](Rng& rng) {
    auto s = std::make_shared<Sequential>();
    s->emplace<Dense>("fc1", 5, 4, rng).emplace<BatchNorm1d>("bn1", 4).emplace<Tanh>("act1");
    s->emplace<Dense>("fc2", 4, 2, rng);
    return s;
});

}  // namespace normgrad
