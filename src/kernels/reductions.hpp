// Reductions the kernels share.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/grad_buffer.hpp"
#include "kernels/simd.hpp"

namespace normgrad::kernels {

// p[0] + ... + p[n-1] in float, vectorised (inlined, so a caller compiled for AVX2 gets AVX2).
NORMGRAD_INLINE float row_sum(const float* p, int64_t n) {
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s;
}

// A bias gradient from the threads' shares: db[o] = sum over t of shares[t * O + o] (written, or
// added, as db asks), the threads' shares added in thread order so that the result depends on
// the shares only. Each thread adds its images' dy planes into its share; the bias gradient is
// then the sum of dy over images and pixels: dL/db[o] = sum_n sum_p dy[n, o, p].
inline void add_bias_shares(const std::vector<double>& shares, int threads, int64_t O,
                            GradBuffer db) {
    for (int64_t o = 0; o < O; ++o) {
        double sum = 0.0;
        for (int t = 0; t < threads; ++t) sum += shares[size_t(t * O + o)];
        const auto v = static_cast<float>(sum);
        db.data[o] = db.accumulate ? db.data[o] + v : v;
    }
}

}  // namespace normgrad::kernels
