// The layer registry: how a new layer gets its gradient test for free.
//
// Every layer registers one small example of itself (a factory and an input shape). The generic
// test (tests/test_layers_gradcheck.cpp) builds each registered example and checks the gradients
// of its input and all its parameters by finite differences, in training and evaluation mode.
// Registering is one line at the bottom of the layer's file:
//
//   NORMGRAD_REGISTER_LAYER(MyLayer, Shape({4, 3}), [](Rng& rng) {
//       return std::make_shared<MyLayer>(3, rng); });
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "normgrad/module.hpp"
#include "normgrad/random.hpp"

namespace normgrad {

struct LayerExample {
    std::string name;
    Shape input_shape;
    std::function<std::shared_ptr<Module>(Rng&)> make;
};

std::vector<LayerExample>& layer_registry();

struct LayerRegistration {
    explicit LayerRegistration(LayerExample example);
};

#define NORMGRAD_REGISTER_LAYER(NAME, SHAPE, FACTORY)                               \
    static const ::normgrad::LayerRegistration normgrad_layer_registration_##NAME { \
        ::normgrad::LayerExample {                                                  \
#NAME, SHAPE, FACTORY                                                   \
        }                                                                           \
    }

}  // namespace normgrad
