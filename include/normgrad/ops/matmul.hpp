// Linear algebra (src/ops/matmul.cpp). Part of ops.hpp; conventions there.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor matmul(const Tensor& a, const Tensor& b);  // [M, K] x [K, N] -> [M, N]
// y = x w^T + b: x [N, in], w [out, in], b [out] (may be undefined)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = {});

}  // namespace normgrad
