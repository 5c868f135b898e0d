// Shape operations (src/ops/reshape.cpp). Part of ops.hpp; conventions there.
#pragma once

#include <cstdint>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor reshape(const Tensor& x, const Shape& shape);  // same number of elements
Tensor flatten(const Tensor& x);                      // [N, ...] -> [N, rest]
// Dimension i of the result is dimension dims[i] of x (dims a permutation of 0..rank-1), as
// torch.permute; the values are copied into the new order.
Tensor permute(const Tensor& x, const std::vector<int>& dims);
Tensor transpose(const Tensor& x, int dim0, int dim1);  // swaps two dimensions
// The tensors joined along `axis`; every other dimension must agree.
Tensor concat(const std::vector<Tensor>& tensors, int axis);
// Indices [start, end) of `axis` (negative axis counts from the end).
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);

}  // namespace normgrad
