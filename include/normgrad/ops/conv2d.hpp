// 2-D convolution (src/ops/conv2d.cpp). Part of ops.hpp; conventions there.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

// How conv2d computes (all give the same result up to float rounding):
//   Im2col:   one matrix product per image over its receptive fields (any kernel, stride, padding)
//   Winograd: F(2x2, 3x3), 2.25x fewer multiplications (3x3 kernels with stride 1 only)
//   Auto:     Winograd where it applies and the layer has more than a few input channels
enum class ConvAlgorithm { Auto, Im2col, Winograd };
struct Conv2dParams {
    int stride = 1;
    int padding = 0;
    ConvAlgorithm algorithm = ConvAlgorithm::Auto;
};
// x [N, C, H, W], w [O, C, kH, kW], b [O] (may be undefined) -> [N, O, OH, OW]
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dParams p = {});

}  // namespace normgrad
