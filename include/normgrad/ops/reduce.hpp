// Reductions (src/ops/reduce.cpp). Part of ops.hpp.
//
// The first two reduce everything to a scalar (rank 0). The others reduce over a set of axes
// (0-based, negative counting from the end, each at most once; an empty set means every axis):
// with keepdim the reduced axes stay, with size 1 (so the result broadcasts against x), as
// PyTorch's keepdim=True; without it they are removed.
#pragma once

#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim = false);
// The variance over the axes: divided by n (biased, what normalisations use) or, when unbiased,
// by n - 1 (Bessel's correction, as torch.var's default).
Tensor var(const Tensor& x, const std::vector<int>& axes, bool unbiased = false,
           bool keepdim = false);
// The maximum over the axes; the gradient goes to the first maximal element of each group.
Tensor max(const Tensor& x, const std::vector<int>& axes, bool keepdim = false);

}  // namespace normgrad
