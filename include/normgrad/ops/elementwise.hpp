// Elementwise operations (src/ops/elementwise.cpp). Part of ops.hpp; conventions there.
//
// The binary operations broadcast as NumPy and PyTorch do, for ranks up to 4: the two shapes are
// aligned at their last dimension (the shorter one is padded with 1s in front); in each
// dimension the sizes must be equal or one of them 1, and the result has the larger. A size-1
// dimension is repeated along the other's. The gradient of an input that was broadcast is the
// output gradient summed over the dimensions it was repeated along, reshaped to the input's
// shape. Shapes that cannot be broadcast are a ShapeError naming the operation and both shapes.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor add(const Tensor& a, const Tensor& b);  // a + b
Tensor sub(const Tensor& a, const Tensor& b);  // a - b
Tensor mul(const Tensor& a, const Tensor& b);  // a * b
Tensor div(const Tensor& a, const Tensor& b);  // a / b
Tensor scale(const Tensor& x, float factor);   // factor * x
Tensor add_scalar(const Tensor& x, float value);  // x + value
// x + b with b [C] broadcast along dimension 1 of x ([N, C] or [N, C, H, W]).
Tensor add_bias(const Tensor& x, const Tensor& b);

}  // namespace normgrad
