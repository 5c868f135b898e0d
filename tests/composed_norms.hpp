// LayerNorm's and GroupNorm's standardisation written with the general operations only: the
// layers' first form, before the standardize operation (src/ops/standardize.cpp) replaced these
// six records with one. No backward is written: the tape differentiates mean, var, rsqrt and the
// rest. tests/test_standardize.cpp checks that standardize computes what this computes, forward
// and backward.
#pragma once

#include <vector>

#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/reduce.hpp"
#include "normgrad/ops/unary.hpp"

namespace normgrad::composed {

// (x - mean) / sqrt(var + eps) over the last `dims` axes: six tape records (mean, sub, var,
// add_scalar, rsqrt, mul). With keepdim the mean and the variance keep those axes as size 1, so
// that sub and mul broadcast them back over each row's values.
inline Tensor standardize(const Tensor& x, int dims, float eps) {
    std::vector<int> axes;
    for (int i = -dims; i < 0; ++i) axes.push_back(i);
    const Tensor centred = sub(x, mean(x, axes, /*keepdim=*/true));
    const Tensor inv_std =
        rsqrt(add_scalar(var(x, axes, /*unbiased=*/false, /*keepdim=*/true), eps));
    return mul(centred, inv_std);
}

}  // namespace normgrad::composed
