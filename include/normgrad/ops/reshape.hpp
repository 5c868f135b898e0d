// Shape operations (src/ops/reshape.cpp). Part of ops.hpp; conventions there.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor reshape(const Tensor& x, const Shape& shape);  // same number of elements
Tensor flatten(const Tensor& x);                      // [N, ...] -> [N, rest]

}  // namespace normgrad
