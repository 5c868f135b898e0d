// Reductions (src/ops/reduce.cpp); results are scalars, rank 0. Part of ops.hpp.
#pragma once

#include "normgrad/tensor.hpp"

namespace normgrad {

Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

}  // namespace normgrad
