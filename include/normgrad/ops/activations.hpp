// Activation functions (src/ops/activations.cpp). Part of ops.hpp; conventions there.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, float negative_slope);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);

}  // namespace normgrad
