#include "normgrad/norms.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace normgrad {

namespace {

// 4096 floats (16 KB, in L1 cache): short enough that a float sum of squares loses nothing that
// matters for a norm (relative error about 1e-7 * sqrt(4096) in the worst case), long enough
// that the double additions between blocks are rare.
constexpr int64_t kBlock = 4096;
// From this many blocks on (1 MB of floats), the blocks are shared among the threads.
constexpr int64_t kMinParallelBlocks = 64;

float block_sum_of_squares(const float* v, int64_t n) {
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += v[i] * v[i];
    return s;
}

}  // namespace

double sum_of_squares(const float* v, int64_t n) {
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    double total = 0.0;
    if (blocks < kMinParallelBlocks || omp_in_parallel() || omp_get_max_threads() == 1) {
        for (int64_t b = 0; b < blocks; ++b)
            total += block_sum_of_squares(v + b * kBlock, std::min(kBlock, n - b * kBlock));
        return total;
    }
    // Each block's sum lands in its own slot and the slots are added in order, so the result is
    // the same bits as the serial loop above.
    std::vector<float> sums(static_cast<size_t>(blocks));
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b)
        sums[size_t(b)] = block_sum_of_squares(v + b * kBlock, std::min(kBlock, n - b * kBlock));
    for (float s : sums) total += s;
    return total;
}

double l2_norm(const float* v, int64_t n) {
    return std::sqrt(sum_of_squares(v, n));
}

}  // namespace normgrad
