// Elementwise functions of one tensor (src/ops/unary.cpp). Part of ops.hpp. The activations
// (relu, sigmoid, tanh, ...) are in activations.hpp.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);    // natural logarithm; log of x <= 0 is -inf or NaN, as in C
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);  // 1 / sqrt(x)
Tensor pow(const Tensor& x, float exponent);
Tensor abs(const Tensor& x);    // its gradient at 0 is 0, as PyTorch's

}  // namespace normgrad
