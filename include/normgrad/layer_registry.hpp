// The layer registry: how a layer gets its gradient test for free.
//
// Every layer has one small example of itself: a name, an input shape and a factory. The generic
// check (check_layer_example, below; run on every example by tests/test_layers_gradcheck.cpp)
// builds the example and compares the gradients of its input and of all its parameters with
// finite differences, in training and in evaluation mode.
//
// Registration is explicit, with no static initialiser in the library (so a program links only
// the layers it uses, and needs no whole-archive linking):
//
//  - A built-in layer declares `static LayerExample example();` in its header, defines it next
//    to the layer in its file under layers/,
//        LayerExample Dense::example() {
//            return {"Dense", Shape({4, 5}),
//                    [](Rng& rng) { return std::make_shared<Dense>(5, 3, rng); }};
//        }
//    and adds one line, `Dense::example(),`, to builtin_layer_examples() in layers/registry.cpp.
//
//  - A program adds its own layers' examples with one line in one of its source files,
//        NORMGRAD_REGISTER_LAYER(MyLayer, Shape({4, 3}),
//                                [](Rng& rng) { return std::make_shared<MyLayer>(3, rng); });
//    which calls add_layer_example() before main() starts (examples/custom_layer/
//    leaky_relu_example.cpp). That file must be one of the executable's own sources (or of an
//    OBJECT library): a linker takes a member of a static library only when something refers to
//    it, and nothing refers to a registration. Where that does not hold, call
//    add_layer_example(...) from main() instead, or check the example directly with
//    check_layer_example (tests/consumer/ does).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "normgrad/gradcheck.hpp"
#include "normgrad/module.hpp"
#include "normgrad/random.hpp"

namespace normgrad {

// LayerExample::flags, or-ed together.
// The layer draws from training_rng() (random.hpp) in training mode (Dropout): the generic check
// re-seeds that stream with the same seed before every evaluation of the layer, so that each
// forward pass draws the same numbers (the same mask) and the finite differences are those of
// one function. Evaluation mode must draw nothing.
inline constexpr uint32_t kRandomInTraining = 1;

struct LayerExample {
    std::string name;
    Shape input_shape;
    std::function<std::shared_ptr<Module>(Rng&)> make;
    // How the generic check must treat the layer: 0 for a layer that is deterministic in both
    // modes, else the flags above (kRandomInTraining).
    uint32_t flags = 0;
};

// The library's layers, in a fixed order (the list is in layers/registry.cpp).
std::vector<LayerExample> builtin_layer_examples();

// Adds a program's own layer to layer_examples() (see NORMGRAD_REGISTER_LAYER).
void add_layer_example(LayerExample example);

// The built-in examples, then those added, in the order they were added.
std::vector<LayerExample> layer_examples();

// The generic gradient check of one example, as tests/test_layers_gradcheck.cpp runs it: builds
// the layer with Rng(7), runs three training passes without the tape (so that running statistics
// hold something), switches to `training` mode, moves every parameter away from its initial
// value (gamma = 1 and beta = 0 could hide a missing term), and checks the gradients of the input
// (distinct values, no two closer than 0.1, none at 0: no max-pool tie or ReLU kink is crossed by
// a step) and of every parameter with gradcheck() (gradcheck.hpp; step 1e-3, atol 2e-3 unless
// `options` says otherwise). It seeds training_rng() for itself and leaves the stream's state as
// it found it; for a kRandomInTraining example in training it re-seeds the stream before every
// evaluation. The report names the example and the mode.
GradCheckResult check_layer_example(const LayerExample& example, bool training,
                                    GradCheckOptions options = {.step = 1e-3, .atol = 2e-3});

struct LayerRegistration {
    explicit LayerRegistration(LayerExample example) { add_layer_example(std::move(example)); }
};

#define NORMGRAD_REGISTER_LAYER(NAME, SHAPE, FACTORY)                               \
    static const ::normgrad::LayerRegistration normgrad_layer_registration_##NAME { \
        ::normgrad::LayerExample {                                                  \
#NAME, SHAPE, FACTORY                                                   \
        }                                                                           \
    }

}  // namespace normgrad
