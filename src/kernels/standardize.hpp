// The passes of standardize (src/ops/standardize.cpp) over memory.
//
// x is viewed as [rows, K]: each row of K consecutive values is standardised by its own mean and
// variance. A row is reduced while it sits in L1 cache (K = 6,272 floats, 25 KB, for LayerNorm over
// a [32, 14, 14] activation), its sums in double; rows are split between threads when there are
// enough values, each row computed by one thread, so the result does not depend on the number of
// threads.
#pragma once

#include <cstdint>

#include "kernels/grad_buffer.hpp"

namespace normgrad::kernels::standardize {

// y = (x - mean) * invstd per row, invstd = 1 / sqrt(var + eps) with the biased variance;
// invstd[r] is written for each row (what backward needs).
void forward(const float* x, int64_t rows, int64_t K, float eps, float* y, float* invstd);

// dx = invstd * (g - mean(g) - y * mean(g * y)) per row, written or added as dx asks.
void backward(const float* y, const float* g, const float* invstd, int64_t rows, int64_t K,
              GradBuffer dx);

}  // namespace normgrad::kernels::standardize
