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

// ---- Standardisation and the affine step in one (standardize_affine) ----
// x is rows of K values, and w and b hold Q values: each run of R consecutive values of x shares
// one of them, the runs taking w[0], w[1], ..., w[Q - 1] in turn. K is a whole number of runs
// (K = J R) and Q a whole number of rows' worth of runs (Q = J M), so row r uses w's J values
// from first_q(r) on. LayerNorm: R = 1, Q = K; GroupNorm: R = H W, J = C / G, Q = C.
struct AffineRows {
    int64_t rows, K, R, Q;
    int64_t first_q(int64_t r) const { return (r % (Q / (K / R))) * (K / R); }
};

// y = (x - mean) * invstd * w + b per row; mean[r] and invstd[r] written for each row.
void forward_affine(const float* x, const float* w, const float* b, const AffineRows& a, float eps,
                    float* y, float* mean, float* invstd);

// Rows are summed for dw and db in blocks of this many, in float within a block, in double
// across blocks: the same rounding whatever the number of threads.
constexpr int64_t kAffineBlockRows = 8;

// From x, g = dL/dy, w and the forward's mean and invstd: dx written or added as dx asks (none
// when dx.data is null), and, when sw is not null, sw[q] = dL/dw[q] and sb[q] = dL/db[q].
void backward_affine(const float* x, const float* g, const float* w, const float* mean,
                     const float* invstd, const AffineRows& a, GradBuffer dx, double* sw,
                     double* sb);

}  // namespace normgrad::kernels::standardize
