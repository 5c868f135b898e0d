// 2-D max-pooling (src/ops/max_pool2d.cpp). Part of ops.hpp; conventions there.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

struct Pool2dParams {
    int kernel = 2;
    int stride = 0;  // 0 means "same as kernel", as in PyTorch
    int padding = 0;
};
// x [N, C, H, W] -> [N, C, OH, OW]
Tensor max_pool2d(const Tensor& x, Pool2dParams p = {});

}  // namespace normgrad
