// x * w + b as one operation (src/ops/multiply_add.cpp). Part of ops.hpp.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

// add(mul(x, w), b), with numpy's broadcasting, in one record when w and b have one shape that
// holds one value per index of a contiguous block of x's axes: LayerNorm's elementwise weight
// and bias [C, H, W] against [N, C, H, W], GroupNorm's per-channel [C, 1, 1]. That is one pass
// over x forward and one backward instead of two and three. Other shapes are add(mul(x, w), b)
// itself, with its records and errors.
Tensor multiply_add(const Tensor& x, const Tensor& w, const Tensor& b);

}  // namespace normgrad
