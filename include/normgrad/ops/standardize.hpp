// Standardisation over the last dimensions, alone or with an affine step after it
// (src/ops/standardize.cpp). Part of ops.hpp.
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

// multiply_add(standardize(x, dims, eps), w, b) (normgrad/ops/multiply_add.hpp): LayerNorm and
// GroupNorm with their weight and bias, in one record of two passes over memory forward and two
// backward instead of four and six, the standardised values not stored. It fuses when w and b
// have one shape that holds one value per index of a block of x's axes, each standardised row
// taking whole runs of values that share one (LayerNorm's weight over the normalised axes
// against [N, C, H, W]; GroupNorm's [G, C / G, 1] against x viewed as [N, G, C / G, H W]); other
// shapes are the composed form itself, with its records and errors.
Tensor standardize_affine(const Tensor& x, int dims, float eps, const Tensor& w, const Tensor& b);

}  // namespace normgrad
