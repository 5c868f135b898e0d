#include "normgrad/norms.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/simd.hpp"

namespace normgrad {

using kernels::horizontal_sum;
using kernels::load;
using kernels::store;
using kernels::v8;

namespace {

// 4096 floats (16 KB, in L1 cache): short enough that a float sum of squares loses nothing that
// matters for a norm (relative error about 1e-7 * sqrt(4096) in the worst case), long enough
// that the double additions between blocks are rare.
constexpr int64_t kBlock = kSumOfSquaresBlock;
// From this many blocks on (1 MB of floats), the blocks are shared among the threads.
constexpr int64_t kMinParallelBlocks = 64;

// Four vectors of eight partial sums: an addition into one accumulator has to wait for the
// previous one (3 to 4 cycles), so a single accumulator would leave the loop waiting on that
// chain; with four, four additions are in flight. The lanes are added in a fixed order at the
// end, so the result does not depend on the instruction set the clone was compiled for (except
// for the rounding of a fused multiply-add).
NORMGRAD_SIMD_CLONES float block_sum_of_squares(const float* v, int64_t n) {
    v8 a0{}, a1{}, a2{}, a3{};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const v8 x0 = load(v + i), x1 = load(v + i + 8), x2 = load(v + i + 16),
                 x3 = load(v + i + 24);
        a0 += x0 * x0;
        a1 += x1 * x1;
        a2 += x2 * x2;
        a3 += x3 * x3;
    }
    float s = horizontal_sum((a0 + a1) + (a2 + a3));
    for (; i < n; ++i) s += v[i] * v[i];
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

NORMGRAD_SIMD_CLONES float copy_sum_of_squares(const float* v, float* out, int64_t n) {
    v8 a0{}, a1{};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const v8 x0 = load(v + i), x1 = load(v + i + 8);
        store(out + i, x0);
        store(out + i + 8, x1);
        a0 += x0 * x0;
        a1 += x1 * x1;
    }
    float s = horizontal_sum(a0 + a1);
    for (; i < n; ++i) {
        out[i] = v[i];
        s += v[i] * v[i];
    }
    return s;
}

NORMGRAD_SIMD_CLONES void sums_of_squares_after_update(const float* old, const float* now,
                                                       int64_t n, float* now_sum,
                                                       float* change_sum) {
    v8 a0{}, a1{}, c0{}, c1{};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const v8 x0 = load(now + i), x1 = load(now + i + 8);
        const v8 d0 = x0 - load(old + i), d1 = x1 - load(old + i + 8);
        a0 += x0 * x0;
        a1 += x1 * x1;
        c0 += d0 * d0;
        c1 += d1 * d1;
    }
    float a = horizontal_sum(a0 + a1), c = horizontal_sum(c0 + c1);
    for (; i < n; ++i) {
        const float d = now[i] - old[i];
        a += now[i] * now[i];
        c += d * d;
    }
    *now_sum = a;
    *change_sum = c;
}

}  // namespace normgrad
