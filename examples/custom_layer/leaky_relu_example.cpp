// LeakyReLU's example for the generic gradient test, registered from a file of its own: one
// line, which adds it to normgrad::layer_examples() when the program starts. A program that
// compiles this file in (the test binary, see examples/CMakeLists.txt) has tests/
// test_layers_gradcheck.cpp check LeakyReLU too; the training program does not need it.
#include "leaky_relu_layer.hpp"
#include "normgrad/layer_registry.hpp"

NORMGRAD_REGISTER_LAYER(LeakyReLU, normgrad::Shape({4, 6}),
                        [](normgrad::Rng&) { return std::make_shared<example::LeakyReLU>(0.2f); });
