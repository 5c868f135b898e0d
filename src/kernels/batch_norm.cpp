// The four passes of batch normalisation (see batch_norm.hpp for what each computes and how).
#include "kernels/batch_norm.hpp"

#include <omp.h>

#include "kernels/reductions.hpp"

namespace normgrad::kernels::bn {

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
        for (int64_t n = 0; n < L.N; ++n)
            for (int64_t c = 0; c < L.C; ++c) s[size_t(c)] += x[n * L.C + c];
        for (int64_t c = 0; c < L.C; ++c) s[size_t(c)] /= m;
        for (int64_t n = 0; n < L.N; ++n)
            for (int64_t c = 0; c < L.C; ++c) {
                const double d = x[n * L.C + c] - s[size_t(c)];
                ss[size_t(c)] += d * d;
            }
        for (int64_t c = 0; c < L.C; ++c) {
            mean[c] = s[size_t(c)];
            m2[c] = ss[size_t(c)];
        }
        return;
    }
    // [N, C, inner]: the rows in memory order (each thread a range of n with its own
    // accumulators), then the threads' accumulators merged per channel in a fixed order.
    const auto inner = static_cast<float>(L.inner);
    const int threads = L.parallel() ? omp_get_max_threads() : 1;
    std::vector<Moments> parts(size_t(threads * L.C));
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        Moments* acc = parts.data() + t * L.C;
        for (int64_t n = L.N * t / nt; n < L.N * (t + 1) / nt; ++n)
            for (int64_t c = 0; c < L.C; ++c) {
                const float* p = x + (n * L.C + c) * L.inner;
                const float row_mean = row_sum(p, L.inner) / inner;
                float q = 0.f;
#pragma omp simd reduction(+ : q)
                for (int64_t i = 0; i < L.inner; ++i) q += (p[i] - row_mean) * (p[i] - row_mean);
                acc[c].merge(double(L.inner), row_mean, q);
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
        for (int64_t n = 0; n < L.N; ++n)
            for (int64_t c = 0; c < L.C; ++c)
                y[n * L.C + c] = ap[c] * (x[n * L.C + c] - mean[c]) + bp[c];
        return;
    }
#pragma omp parallel for schedule(static) if (L.parallel())
    for (int64_t row = 0; row < L.N * L.C; ++row) {
        const int64_t c = row % L.C;
        const float ac = ap[c], mc = mean[c], bc = bp[c];
        const float* xr = x + row * L.inner;
        float* yr = y + row * L.inner;
#pragma omp simd
        for (int64_t i = 0; i < L.inner; ++i) yr[i] = ac * (xr[i] - mc) + bc;
    }
}

// sum_i g_i and sum_i g_i (x_i - mean) per channel, the latter times invstd at the end.
void channel_sums(const Layout& L, const float* x, const float* g, const float* mean,
                  const float* invstd, double* sum_g, double* sum_gxhat) {
    for (int64_t c = 0; c < L.C; ++c) sum_g[c] = sum_gxhat[c] = 0.0;
    if (L.inner == 1) {
        for (int64_t n = 0; n < L.N; ++n)
            for (int64_t c = 0; c < L.C; ++c) {
                const int64_t j = n * L.C + c;
                sum_g[c] += g[j];
                sum_gxhat[c] += static_cast<double>(g[j]) * (x[j] - mean[c]);
            }
    } else {  // in memory order, as in channel_moments
        const int threads = L.parallel() ? omp_get_max_threads() : 1;
        std::vector<double> parts(size_t(2 * threads * L.C), 0.0);
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num(), nt = omp_get_num_threads();
            double *sg = parts.data() + 2 * t * L.C, *sgx = sg + L.C;
            for (int64_t n = L.N * t / nt; n < L.N * (t + 1) / nt; ++n)
                for (int64_t c = 0; c < L.C; ++c) {
                    const int64_t off = (n * L.C + c) * L.inner;
                    const float mu = mean[c];
                    float rg = 0.f, rgx = 0.f;
#pragma omp simd reduction(+ : rg, rgx)
                    for (int64_t i = 0; i < L.inner; ++i) {
                        rg += g[off + i];
                        rgx += g[off + i] * (x[off + i] - mu);
                    }
                    sg[c] += rg;
                    sgx[c] += rgx;
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
        for (int64_t n = 0; n < L.N; ++n)
            for (int64_t c = 0; c < L.C; ++c) {
                const int64_t j = n * L.C + c;
                const float v = k1[c] * g[j] + k2[c] * (x[j] - mu[c]) + k3[c];
                d[j] = acc ? d[j] + v : v;
            }
        return;
    }
#pragma omp parallel for schedule(static) if (L.parallel())
    for (int64_t row = 0; row < L.N * L.C; ++row) {
        const int64_t c = row % L.C, off = row * L.inner;
        const float a = k1[c], b = k2[c], e = k3[c], m = mu[c];
        if (acc) {
#pragma omp simd
            for (int64_t i = 0; i < L.inner; ++i)
                d[off + i] += a * g[off + i] + b * (x[off + i] - m) + e;
        } else {
#pragma omp simd
            for (int64_t i = 0; i < L.inner; ++i)
                d[off + i] = a * g[off + i] + b * (x[off + i] - m) + e;
        }
    }
}

}  // namespace normgrad::kernels::bn
