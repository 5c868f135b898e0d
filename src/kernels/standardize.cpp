// Row passes of standardize, in the three builds of kernels/isa.hpp.
#include "kernels/standardize.hpp"

#include <omp.h>

#include <cmath>

#include "kernels/isa.hpp"
#include "kernels/parallel.hpp"

namespace normgrad::kernels::standardize {

namespace {

// Rows [lo, hi): three passes over each row, all in L1 cache after the first: the mean, the sum
// of squared deviations from it (two passes, so no cancellation of E[x^2] - E[x]^2), then y.
NORMGRAD_INLINE void forward_rows_body(const float* x, int64_t lo, int64_t hi, int64_t K, float eps,
                                       float* y, float* invstd) {
    for (int64_t r = lo; r < hi; ++r) {
        const float* xr = x + r * K;
        float* yr = y + r * K;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t d = 0; d < K; ++d) s += xr[d];
        const double mean = s / double(K);
        double m2 = 0.0;
#pragma omp simd reduction(+ : m2)
        for (int64_t d = 0; d < K; ++d) {
            const double e = xr[d] - mean;
            m2 += e * e;
        }
        const auto mu = static_cast<float>(mean);
        const auto is = static_cast<float>(1.0 / std::sqrt(m2 / double(K) + double(eps)));
        invstd[r] = is;
#pragma omp simd
        for (int64_t d = 0; d < K; ++d) yr[d] = (xr[d] - mu) * is;
    }
}
NORMGRAD_KERNEL(void, forward_rows,
                (const float* x, int64_t lo, int64_t hi, int64_t K, float eps, float* y,
                 float* invstd),
                forward_rows_body, (x, lo, hi, K, eps, y, invstd))

// Rows [lo, hi): the two sums in one pass, then dx in a second.
NORMGRAD_INLINE void backward_rows_body(const float* y, const float* g, const float* invstd,
                                        int64_t lo, int64_t hi, int64_t K, float* dx,
                                        bool accumulate) {
    for (int64_t r = lo; r < hi; ++r) {
        const float *yr = y + r * K, *gr = g + r * K;
        float* d = dx + r * K;
        double sg = 0.0, sgy = 0.0;
#pragma omp simd reduction(+ : sg, sgy)
        for (int64_t k = 0; k < K; ++k) {
            sg += gr[k];
            sgy += double(gr[k]) * yr[k];
        }
        const auto a = static_cast<float>(sg / double(K)), b = static_cast<float>(sgy / double(K));
        const float is = invstd[r];
        if (accumulate) {
#pragma omp simd
            for (int64_t k = 0; k < K; ++k) d[k] += is * (gr[k] - a - yr[k] * b);
        } else {
#pragma omp simd
            for (int64_t k = 0; k < K; ++k) d[k] = is * (gr[k] - a - yr[k] * b);
        }
    }
}
NORMGRAD_KERNEL(void, backward_rows,
                (const float* y, const float* g, const float* invstd, int64_t lo, int64_t hi,
                 int64_t K, float* dx, bool accumulate),
                backward_rows_body, (y, g, invstd, lo, hi, K, dx, accumulate))

// f(lo, hi) over [0, rows), split between the threads by whole rows when the work is large.
template <class F>
void over_rows(int64_t rows, int64_t K, F f) {
    if (rows * K < kMinParallelElements || rows < 2 || omp_in_parallel()) {
        f(int64_t{0}, rows);
        return;
    }
#pragma omp parallel
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        f(rows * t / nt, rows * (t + 1) / nt);
    }
}

}  // namespace

void forward(const float* x, int64_t rows, int64_t K, float eps, float* y, float* invstd) {
    over_rows(rows, K, [&](int64_t lo, int64_t hi) { forward_rows(x, lo, hi, K, eps, y, invstd); });
}

void backward(const float* y, const float* g, const float* invstd, int64_t rows, int64_t K,
              GradBuffer dx) {
    over_rows(rows, K, [&](int64_t lo, int64_t hi) {
        backward_rows(y, g, invstd, lo, hi, K, dx.data, dx.accumulate);
    });
}

}  // namespace normgrad::kernels::standardize
