// The parameter-free layers (defined inline in their headers) and Sequential.
#include <fmt/format.h>

#include "normgrad/layer_registry.hpp"
#include "normgrad/layers/activations.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/layers/flatten.hpp"
#include "normgrad/layers/max_pool2d.hpp"
#include "normgrad/layers/sequential.hpp"

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

LayerExample ReLU::example() {
    return {"ReLU", Shape({3, 4}), [](Rng&) { return std::make_shared<ReLU>(); }};
}
LayerExample Sigmoid::example() {
    return {"Sigmoid", Shape({3, 4}), [](Rng&) { return std::make_shared<Sigmoid>(); }};
}
LayerExample Tanh::example() {
    return {"Tanh", Shape({3, 4}), [](Rng&) { return std::make_shared<Tanh>(); }};
}
LayerExample Flatten::example() {
    return {"Flatten", Shape({2, 3, 2, 2}), [](Rng&) { return std::make_shared<Flatten>(); }};
}
LayerExample MaxPool2d::example() {
    return {"MaxPool2d", Shape({2, 2, 5, 5}), [](Rng&) { return std::make_shared<MaxPool2d>(2); }};
}
LayerExample Sequential::example() {
    return {"Sequential", Shape({4, 5}), [](Rng& rng) {
                auto s = std::make_shared<Sequential>();
                s->emplace<Dense>("fc1", 5, 4, rng)
                    .emplace<BatchNorm1d>("bn1", 4)
                    .emplace<Tanh>("act1");
                s->emplace<Dense>("fc2", 4, 2, rng);
                return s;
            }};
}

}  // namespace normgrad
