// Elementwise operations (src/ops/elementwise.cpp). Part of ops.hpp; conventions there.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor add(const Tensor& a, const Tensor& b);  // same shapes
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float factor);  // factor * x
// x + b with b [C] broadcast along dimension 1 of x ([N, C] or [N, C, H, W]).
Tensor add_bias(const Tensor& x, const Tensor& b);

}  // namespace normgrad
