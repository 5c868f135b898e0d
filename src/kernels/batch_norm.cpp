// The four passes of batch normalisation (see batch_norm.hpp for what each computes and how).
#include "kernels/batch_norm.hpp"

#include <omp.h>

#include "kernels/isa.hpp"
#include "kernels/reductions.hpp"

namespace normgrad::kernels::bn {

// ---- The loops over one contiguous row, in three builds each (kernels/isa.hpp) ----
// The parallel loops below call these once per (n, c) row, through pick(), so that the vector
// instructions are the chosen build's whichever way OpenMP outlines the loops around them.
namespace {

struct RowMoments {
    float mean, m2;
};

// A row's mean and sum of squared deviations from it, in float (the row is short and in cache).
NORMGRAD_INLINE RowMoments row_moments_body(const float* p, int64_t n) {
    const float mean = row_sum(p, n) / static_cast<float>(n);
    float q = 0.f;
#pragma omp simd reduction(+ : q)
    for (int64_t i = 0; i < n; ++i) q += (p[i] - mean) * (p[i] - mean);
    return {mean, q};
}
NORMGRAD_KERNEL_BUILDS(RowMoments, row_moments, (const float* p, int64_t n), row_moments_body,
                       (p, n))

NORMGRAD_INLINE void normalise_row_body(const float* x, float* y, int64_t n, float a, float m,
                                        float b) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = a * (x[i] - m) + b;
}
NORMGRAD_KERNEL_BUILDS(void, normalise_row,
                       (const float* x, float* y, int64_t n, float a, float m, float b),
                       normalise_row_body, (x, y, n, a, m, b))

struct RowSums {
    float g, gx;
};

// sum_i g_i and sum_i g_i (x_i - mu) of one row.
NORMGRAD_INLINE RowSums row_sums_body(const float* g, const float* x, int64_t n, float mu) {
    float rg = 0.f, rgx = 0.f;
#pragma omp simd reduction(+ : rg, rgx)
    for (int64_t i = 0; i < n; ++i) {
        rg += g[i];
        rgx += g[i] * (x[i] - mu);
    }
    return {rg, rgx};
}
NORMGRAD_KERNEL_BUILDS(RowSums, row_sums, (const float* g, const float* x, int64_t n, float mu),
                       row_sums_body, (g, x, n, mu))

// d = a g + b (x - m) + e, written or added.
NORMGRAD_INLINE void dx_row_body(float* d, const float* g, const float* x, int64_t n, float a,
                                 float b, float e, float m, bool accumulate) {
    if (accumulate) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) d[i] += a * g[i] + b * (x[i] - m) + e;
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) d[i] = a * g[i] + b * (x[i] - m) + e;
    }
}
NORMGRAD_KERNEL_BUILDS(void, dx_row,
                       (float* d, const float* g, const float* x, int64_t n, float a, float b,
                        float e, float m, bool accumulate),
                       dx_row_body, (d, g, x, n, a, b, e, m, accumulate))

// The [N, C] layout: the channels are the columns, so the loops run along rows of C values.
NORMGRAD_INLINE void normalise_2d_body(const float* x, float* y, int64_t N, int64_t C,
                                       const float* a, const float* mean, const float* b) {
    for (int64_t n = 0; n < N; ++n)
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) y[n * C + c] = a[c] * (x[n * C + c] - mean[c]) + b[c];
}
NORMGRAD_KERNEL_BUILDS(void, normalise_2d,
                       (const float* x, float* y, int64_t N, int64_t C, const float* a,
                        const float* mean, const float* b),
                       normalise_2d_body, (x, y, N, C, a, mean, b))

NORMGRAD_INLINE void dx_2d_body(float* d, const float* g, const float* x, int64_t N, int64_t C,
                                const float* k1, const float* k2, const float* k3, const float* mu,
                                bool accumulate) {
    for (int64_t n = 0; n < N; ++n) {
        float* dn = d + n * C;
        const float *gn = g + n * C, *xn = x + n * C;
        if (accumulate) {
#pragma omp simd
            for (int64_t c = 0; c < C; ++c)
                dn[c] += k1[c] * gn[c] + k2[c] * (xn[c] - mu[c]) + k3[c];
        } else {
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) dn[c] = k1[c] * gn[c] + k2[c] * (xn[c] - mu[c]) + k3[c];
        }
    }
}
NORMGRAD_KERNEL_BUILDS(void, dx_2d,
                       (float* d, const float* g, const float* x, int64_t N, int64_t C,
                        const float* k1, const float* k2, const float* k3, const float* mu,
                        bool accumulate),
                       dx_2d_body, (d, g, x, N, C, k1, k2, k3, mu, accumulate))

// Column sums in double of [N, C]: s[c] += x[n, c] (and, with `mean`, of (x - mean)^2 instead).
NORMGRAD_INLINE void column_sums_body(const float* x, int64_t N, int64_t C, const double* mean,
                                      double* s) {
    for (int64_t n = 0; n < N; ++n) {
        const float* xn = x + n * C;
        if (mean) {
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) {
                const double d = xn[c] - mean[c];
                s[c] += d * d;
            }
        } else {
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) s[c] += xn[c];
        }
    }
}
NORMGRAD_KERNEL_BUILDS(void, column_sums,
                       (const float* x, int64_t N, int64_t C, const double* mean, double* s),
                       column_sums_body, (x, N, C, mean, s))

// sum_g[c] += g[n, c] and sum_gx[c] += g[n, c] (x[n, c] - mean[c]) over the rows, in double.
NORMGRAD_INLINE void column_grad_sums_body(const float* g, const float* x, int64_t N, int64_t C,
                                           const float* mean, double* sum_g, double* sum_gx) {
    for (int64_t n = 0; n < N; ++n) {
        const float *gn = g + n * C, *xn = x + n * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) {
            sum_g[c] += gn[c];
            sum_gx[c] += static_cast<double>(gn[c]) * (xn[c] - mean[c]);
        }
    }
}
NORMGRAD_KERNEL_BUILDS(void, column_grad_sums,
                       (const float* g, const float* x, int64_t N, int64_t C, const float* mean,
                        double* sum_g, double* sum_gx),
                       column_grad_sums_body, (g, x, N, C, mean, sum_g, sum_gx))

}  // namespace

void channel_moments(const Layout& L, const float* x, float* mean, float* var) {
    const auto m = static_cast<double>(L.m());
    std::vector<double> mean_d(size_t(L.C)), m2(size_t(L.C));
    channel_moments(L, x, mean_d.data(), m2.data());
    for (int64_t c = 0; c < L.C; ++c) {
        mean[c] = static_cast<float>(mean_d[size_t(c)]);
        var[c] = static_cast<float>(m2[size_t(c)] / m);
    }
}

void channel_moments(const Layout& L, const float* x, double* mean, double* m2) {
    const auto m = static_cast<double>(L.m());
    if (L.m() == 0) {
        for (int64_t c = 0; c < L.C; ++c) mean[c] = m2[c] = 0.0;
        return;
    }
    if (L.inner == 1) {  // [N, C]: two sweeps along the rows, one accumulator per channel
        std::vector<double> s(size_t(L.C), 0.0), ss(size_t(L.C), 0.0);
        const auto sums = pick(column_sums_baseline, column_sums_avx2, column_sums_avx512);
        sums(x, L.N, L.C, nullptr, s.data());
        for (int64_t c = 0; c < L.C; ++c) s[size_t(c)] /= m;
        sums(x, L.N, L.C, s.data(), ss.data());
        for (int64_t c = 0; c < L.C; ++c) {
            mean[c] = s[size_t(c)];
            m2[c] = ss[size_t(c)];
        }
        return;
    }
    // [N, C, inner]: the rows in memory order (each thread a range of n with its own
    // accumulators), then the threads' accumulators merged per channel in a fixed order.
    const int threads = L.parallel() ? omp_get_max_threads() : 1;
    std::vector<Moments> parts(size_t(threads * L.C));
    const auto moments = pick(row_moments_baseline, row_moments_avx2, row_moments_avx512);
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        Moments* acc = parts.data() + t * L.C;
        for (int64_t n = L.N * t / nt; n < L.N * (t + 1) / nt; ++n)
            for (int64_t c = 0; c < L.C; ++c) {
                const RowMoments r = moments(x + (n * L.C + c) * L.inner, L.inner);
                acc[c].merge(double(L.inner), r.mean, r.m2);
            }
    }
    for (int64_t c = 0; c < L.C; ++c) {
        Moments acc;
        for (int t = 0; t < threads; ++t) {
            const Moments& part = parts[size_t(t * L.C + c)];
            if (part.count > 0) acc.merge(part.count, part.mean, part.m2);
        }
        mean[c] = acc.mean;
        m2[c] = acc.m2;
    }
}

// Per channel y = a (x - mean) + b, with a = gamma * invstd and b = beta.
void normalise(const Layout& L, const float* x, const float* mean, const float* invstd,
               const float* gamma, const float* beta, float* y) {
    std::vector<float> a(size_t(L.C)), b(size_t(L.C), 0.f);
    for (int64_t c = 0; c < L.C; ++c) {
        a[size_t(c)] = (gamma ? gamma[c] : 1.f) * invstd[c];
        if (beta) b[size_t(c)] = beta[c];
    }
    const float *ap = a.data(), *bp = b.data();
    if (L.inner == 1) {
        pick(normalise_2d_baseline, normalise_2d_avx2, normalise_2d_avx512)(x, y, L.N, L.C, ap,
                                                                            mean, bp);
        return;
    }
    const auto row_kernel = pick(normalise_row_baseline, normalise_row_avx2, normalise_row_avx512);
#pragma omp parallel for schedule(static) if (L.parallel())
    for (int64_t row = 0; row < L.N * L.C; ++row) {
        const int64_t c = row % L.C;
        row_kernel(x + row * L.inner, y + row * L.inner, L.inner, ap[c], mean[c], bp[c]);
    }
}

// sum_i g_i and sum_i g_i (x_i - mean) per channel, the latter times invstd at the end.
void channel_sums(const Layout& L, const float* x, const float* g, const float* mean,
                  const float* invstd, double* sum_g, double* sum_gxhat) {
    for (int64_t c = 0; c < L.C; ++c) sum_g[c] = sum_gxhat[c] = 0.0;
    if (L.inner == 1) {
        pick(column_grad_sums_baseline, column_grad_sums_avx2, column_grad_sums_avx512)(
            g, x, L.N, L.C, mean, sum_g, sum_gxhat);
    } else {  // in memory order, as in channel_moments
        const int threads = L.parallel() ? omp_get_max_threads() : 1;
        std::vector<double> parts(size_t(2 * threads * L.C), 0.0);
        const auto sums = pick(row_sums_baseline, row_sums_avx2, row_sums_avx512);
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num(), nt = omp_get_num_threads();
            double *sg = parts.data() + 2 * t * L.C, *sgx = sg + L.C;
            for (int64_t n = L.N * t / nt; n < L.N * (t + 1) / nt; ++n)
                for (int64_t c = 0; c < L.C; ++c) {
                    const int64_t off = (n * L.C + c) * L.inner;
                    const RowSums r = sums(g + off, x + off, L.inner, mean[c]);
                    sg[c] += r.g;
                    sgx[c] += r.gx;
                }
        }
        for (int t = 0; t < threads; ++t)
            for (int64_t c = 0; c < L.C; ++c) {
                sum_g[c] += parts[size_t(2 * t * L.C + c)];
                sum_gxhat[c] += parts[size_t((2 * t + 1) * L.C + c)];
            }
    }
    for (int64_t c = 0; c < L.C; ++c) sum_gxhat[c] *= invstd[c];
}

void input_grad(const Layout& L, GradBuffer dx, const float* g, const float* x,
                const DxCoefficients& k) {
    const float *k1 = k.k1.data(), *k2 = k.k2.data(), *k3 = k.k3.data(), *mu = k.mu.data();
    float* d = dx.data;
    const bool acc = dx.accumulate;
    if (L.inner == 1) {
        pick(dx_2d_baseline, dx_2d_avx2, dx_2d_avx512)(d, g, x, L.N, L.C, k1, k2, k3, mu, acc);
        return;
    }
    const auto row_kernel = pick(dx_row_baseline, dx_row_avx2, dx_row_avx512);
#pragma omp parallel for schedule(static) if (L.parallel())
    for (int64_t row = 0; row < L.N * L.C; ++row) {
        const int64_t c = row % L.C, off = row * L.inner;
        row_kernel(d + off, g + off, x + off, L.inner, k1[c], k2[c], k3[c], mu[c], acc);
    }
}

}  // namespace normgrad::kernels::bn
