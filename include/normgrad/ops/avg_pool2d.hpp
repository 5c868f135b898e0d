// Average pooling (src/ops/avg_pool2d.cpp). Part of ops.hpp.
#pragma once

#include "normgrad/ops/max_pool2d.hpp"  // Pool2dParams
#include "normgrad/tensor.hpp"

namespace normgrad {

// The mean of each window of x [N, C, H, W] (padding counts as zeros in the mean, as PyTorch's
// default count_include_pad=True).
Tensor avg_pool2d(const Tensor& x, Pool2dParams p = {});
// The mean over each channel's H x W positions: [N, C, H, W] -> [N, C].
Tensor global_avg_pool2d(const Tensor& x);

}  // namespace normgrad
