// Differentiable operations: this header includes them all. Each one computes its forward result
// and, when an input needs a gradient, records its backward function on the tape (see
// autograd.hpp). The backward math of every operation is written out in a comment beside its code
// in src/ops/.
//
// Shape conventions follow PyTorch: dense weights are [out, in], images are [N, C, H, W],
// convolution weights are [out_channels, in_channels, kH, kW].
//
// One header per group, for code that needs only some (so that touching one rebuilds its users
// alone): normgrad/ops/<group>.hpp, matching src/ops/<group>.cpp.
#pragma once

#include "normgrad/ops/activations.hpp"    // relu, leaky_relu, sigmoid, tanh
#include "normgrad/ops/avg_pool2d.hpp"     // avg_pool2d, global_avg_pool2d
#include "normgrad/ops/batch_norm.hpp"     // batch_norm_train, batch_norm_eval, BatchStats
#include "normgrad/ops/conv2d.hpp"         // conv2d, Conv2dParams, ConvAlgorithm
#include "normgrad/ops/cross_entropy.hpp"  // cross_entropy
#include "normgrad/ops/elementwise.hpp"    // add, sub, mul, div, scale, add_scalar, add_bias
#include "normgrad/ops/matmul.hpp"         // matmul, linear
#include "normgrad/ops/max_pool2d.hpp"     // max_pool2d, Pool2dParams
#include "normgrad/ops/multiply_add.hpp"   // multiply_add (x * w + b, LayerNorm's gamma and beta)
#include "normgrad/ops/reduce.hpp"         // sum, mean (all or over axes), var, max
#include "normgrad/ops/reshape.hpp"        // reshape, flatten, permute, transpose, concat, slice
#include "normgrad/ops/standardize.hpp"    // standardize, standardize_affine (LayerNorm, GroupNorm)
#include "normgrad/ops/unary.hpp"          // exp, log, sqrt, rsqrt, pow, abs
