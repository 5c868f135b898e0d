// Sums of squares and L2 norms of float arrays (gradient clipping, and whoever measures a run).
//
// Both run once per parameter per training step, so they are written to cost little: the array
// is cut into fixed blocks, each block summed in float with vector instructions, and the block
// sums added in double in block order. The result depends only on the values, never on the
// number of threads (large arrays share their blocks among the threads).
#pragma once

#include <cstdint>

namespace normgrad {

// The block length: sum_of_squares(v, n) is the double sum, in block order, of the float sums
// sum_of_squares(v + b * kSumOfSquaresBlock, <= kSumOfSquaresBlock). A kernel that measures a
// gradient block by block while reading it gets the same bits as one call over the whole array.
inline constexpr int64_t kSumOfSquaresBlock = 1024;

// sum of v[i]^2 for i in [0, n).
double sum_of_squares(const float* v, int64_t n);
// sqrt(sum_of_squares(v, n)).
double l2_norm(const float* v, int64_t n);

// What an update did to an array, given a copy of it from before the update:
// copies v[0..n) to out (which must not overlap it) and returns the sum of v[i]^2 ...
double copy_and_sum_of_squares(const float* v, float* out, int64_t n);
// ... and, after the update, the sums of now[i]^2 and of (now[i] - old[i])^2. Both are taken
// block by block as sum_of_squares is, so the first equals sum_of_squares(now, n).
void update_sums_of_squares(const float* old, const float* now, int64_t n, double* now_sum,
                            double* change_sum);
// The same, with the sum of old[i]^2 (equal to sum_of_squares(old, n)) from the same pass.
void update_sums_of_squares(const float* old, const float* now, int64_t n, double* old_sum,
                            double* now_sum, double* change_sum);

}  // namespace normgrad
