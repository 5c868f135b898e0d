// Sums of squares and L2 norms of float arrays, for gradient clipping and the gradient statistics.
//
// Both run once per parameter per training step, so they are written to cost little: the array
// is cut into fixed blocks, each block summed in float with vector instructions, and the block
// sums added in double in block order. The result depends only on the values, never on the
// number of threads (large arrays share their blocks among the threads).
#pragma once

#include <cstdint>

namespace normgrad {

// sum of v[i]^2 for i in [0, n).
double sum_of_squares(const float* v, int64_t n);
// sqrt(sum_of_squares(v, n)).
double l2_norm(const float* v, int64_t n);

}  // namespace normgrad
