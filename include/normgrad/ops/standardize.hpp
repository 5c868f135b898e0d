// Standardisation over the last dimensions (src/ops/standardize.cpp). Part of ops.hpp.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

// (x - mean) / sqrt(var + eps) over the last `dims` axes of x (1 <= dims <= rank), the mean and
// the biased variance taken over those axes for each index of the leading ones: what
// torch.nn.functional.layer_norm computes without weight and bias, and tinygrad's
// Tensor.layernorm. The same as
//   mul(sub(x, mean(x, axes, true)), rsqrt(add_scalar(var(x, axes, false, true), eps)))
// with the axes the last `dims` ones, in one record and four passes over memory instead of six
// records and about twelve passes (tests/test_standardize.cpp checks the two against each other).
// eps must be finite and at least 0; the axes must hold at least one element.
Tensor standardize(const Tensor& x, int dims, float eps);

}  // namespace normgrad
