#include "normgrad/norms.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/isa.hpp"

namespace normgrad {

namespace {

// 1024 floats (4 KB, in L1 cache, and the optimizer's update block: optim.hpp): short enough
// that a float sum of squares loses nothing that matters for a norm (relative error about
// 1e-7 * sqrt(1024) in the worst case), long enough that the double additions between blocks
// are rare.
constexpr int64_t kBlock = kSumOfSquaresBlock;
// From this many blocks on (256 K floats, 1 MB), the blocks are shared among the threads.
constexpr int64_t kMinParallelBlocks = (int64_t(1) << 18) / kBlock;

// 32 partial sums, lane j adding v[j], v[j + 32], v[j + 64], ...: an addition into one
// accumulator has to wait for the previous one (3 to 4 cycles), so a single running sum would
// leave the loop waiting on that chain; the compiler keeps these 32 in four AVX registers (eight
// SSE ones) and has four additions in flight. The partial sums are then added in a fixed order,
// so the result is the same whichever instruction set the build was compiled for (except for
// the rounding of a fused multiply-add).
constexpr int kLanes = 32;

NORMGRAD_INLINE float add_lanes(const float* acc) {
    float s = 0.f;
    for (int j = 0; j < kLanes; ++j) s += acc[j];
    return s;
}

NORMGRAD_INLINE float block_sum_of_squares_body(const float* v, int64_t n) {
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += v[i + j] * v[i + j];
    float s = add_lanes(acc);
    for (; i < n; ++i) s += v[i] * v[i];
    return s;
}
NORMGRAD_KERNEL(float, block_sum_of_squares, (const float* v, int64_t n), block_sum_of_squares_body,
                (v, n))

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

double copy_and_sum_of_squares(const float* v, float* out, int64_t n) {
    // A block's copy, then the sum over the copy while it is in L1 cache (one loop doing both kept
    // its partial sums in memory instead of registers and ran 3x slower).
    double total = 0.0;
    for (int64_t first = 0; first < n; first += kBlock) {
        const int64_t count = std::min(kBlock, n - first);
        std::memcpy(out + first, v + first, size_t(count) * sizeof(float));
        total += block_sum_of_squares(out + first, count);
    }
    return total;
}

namespace {

NORMGRAD_INLINE void block_update_sums_body(const float* old, const float* now, int64_t n,
                                            float* now_sum, float* change_sum) {
    float acc_now[kLanes] = {}, acc_change[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) {
            const float d = now[i + j] - old[i + j];
            acc_now[j] += now[i + j] * now[i + j];
            acc_change[j] += d * d;
        }
    float a = add_lanes(acc_now), c = add_lanes(acc_change);
    for (; i < n; ++i) {
        const float d = now[i] - old[i];
        a += now[i] * now[i];
        c += d * d;
    }
    *now_sum = a;
    *change_sum = c;
}
NORMGRAD_KERNEL(void, block_update_sums,
                (const float* old, const float* now, int64_t n, float* now_sum, float* change_sum),
                block_update_sums_body, (old, now, n, now_sum, change_sum))

}  // namespace

namespace {

// block_update_sums and, in the same pass, old's sum of squares as block_sum_of_squares adds it
// (the same lanes in the same order: the same bits).
NORMGRAD_INLINE void block_update_sums3_body(const float* old, const float* now, int64_t n,
                                             float* old_sum, float* now_sum, float* change_sum) {
    float acc_old[kLanes] = {}, acc_now[kLanes] = {}, acc_change[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) {
            const float d = now[i + j] - old[i + j];
            acc_old[j] += old[i + j] * old[i + j];
            acc_now[j] += now[i + j] * now[i + j];
            acc_change[j] += d * d;
        }
    float o = add_lanes(acc_old), a = add_lanes(acc_now), c = add_lanes(acc_change);
    for (; i < n; ++i) {
        const float d = now[i] - old[i];
        o += old[i] * old[i];
        a += now[i] * now[i];
        c += d * d;
    }
    *old_sum = o;
    *now_sum = a;
    *change_sum = c;
}
NORMGRAD_KERNEL(void, block_update_sums3,
                (const float* old, const float* now, int64_t n, float* old_sum, float* now_sum,
                 float* change_sum),
                block_update_sums3_body, (old, now, n, old_sum, now_sum, change_sum))

}  // namespace

void update_sums_of_squares(const float* old, const float* now, int64_t n, double* old_sum,
                            double* now_sum, double* change_sum) {
    double o = 0.0, a = 0.0, c = 0.0;
    for (int64_t first = 0; first < n; first += kBlock) {
        float so = 0.f, sa = 0.f, sc = 0.f;
        block_update_sums3(old + first, now + first, std::min(kBlock, n - first), &so, &sa, &sc);
        o += so;
        a += sa;
        c += sc;
    }
    *old_sum = o;
    *now_sum = a;
    *change_sum = c;
}

void update_sums_of_squares(const float* old, const float* now, int64_t n, double* now_sum,
                            double* change_sum) {
    double a = 0.0, c = 0.0;
    for (int64_t first = 0; first < n; first += kBlock) {
        float sa = 0.f, sc = 0.f;
        block_update_sums(old + first, now + first, std::min(kBlock, n - first), &sa, &sc);
        a += sa;
        c += sc;
    }
    *now_sum = a;
    *change_sum = c;
}

}  // namespace normgrad
