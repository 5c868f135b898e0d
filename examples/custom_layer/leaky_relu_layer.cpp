// The whole layer: forward written with tape operations (its example for the gradient test is
// registered in leaky_relu_example.cpp).
#include "leaky_relu_layer.hpp"

#include "normgrad/ops/activations.hpp"
#include "normgrad/ops/elementwise.hpp"

namespace example {

using namespace normgrad;

// LeakyReLU(x) = relu(x) - slope * relu(-x). Every operation used here records its own
// backward on the tape, so the layer needs no backward of its own.
Tensor LeakyReLU::forward(const Tensor& x) {
    return sub(relu(x), scale(relu(scale(x, -1.f)), slope_));
}

}  // namespace example
