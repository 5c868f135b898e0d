// The whole layer: forward written with tape operations, and one registration line.
#include "leaky_relu_layer.hpp"

#include "normgrad/layer_registry.hpp"
#include "normgrad/ops.hpp"

namespace example {

using namespace normgrad;

// LeakyReLU(x) = relu(x) - slope * relu(-x). Every operation used here records its own
// backward on the tape, so the layer needs no backward of its own.
Tensor LeakyReLU::forward(const Tensor& x) {
    return sub(relu(x), scale(relu(scale(x, -1.f)), slope_));
}

}  // namespace example

// The generic gradient test (tests/test_layers_gradcheck.cpp) now checks this layer too.
NORMGRAD_REGISTER_LAYER(LeakyReLU, normgrad::Shape({4, 6}),
                        [](normgrad::Rng&) { return std::make_shared<example::LeakyReLU>(0.2f); });
