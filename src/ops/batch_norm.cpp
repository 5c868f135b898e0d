// Batch normalisation, the operation (the layer with running statistics is in layers/).
//
// Per channel c (a feature of [N, C] input, or a channel of [N, C, H, W] input) over its
// m = N (or N*H*W) values x_i:
//
//   mu      = (1/m) sum_i x_i
//   var     = (1/m) sum_i (x_i - mu)^2          (biased: divides by m, as PyTorch normalises)
//   xhat_i  = (x_i - mu) / sqrt(var + eps)      (eps inside the square root)
//   y_i     = gamma * xhat_i + beta
//
// ---- Backward in training mode, step by step ----
// Write s = sqrt(var + eps) and g_i = dL/dy_i. The easy parts first:
//   dL/dbeta  = sum_i g_i
//   dL/dgamma = sum_i g_i xhat_i
//   dL/dxhat_i = gamma g_i                                     =: d_i
// x_j reaches the loss along three paths: directly through xhat_j, through mu (every xhat_i
// depends on mu) and through var (every xhat_i depends on var). So
//   dL/dx_j = d_j / s                                          (1) through xhat_j
//           + dL/dmu  * dmu/dx_j                               (2) through the mean
//           + dL/dvar * dvar/dx_j                              (3) through the variance
// with
//   dL/dvar = sum_i d_i (x_i - mu) * (-1/2) (var + eps)^(-3/2) = -(1/(2 s^2)) sum_i d_i xhat_i
//   dvar/dx_j = 2 (x_j - mu) / m   (the term from mu inside var vanishes: sum_i (x_i - mu) = 0)
//   dL/dmu  = sum_i d_i * (-1/s)  (+ dL/dvar * dvar/dmu, which is 0 for the same reason)
//   dmu/dx_j = 1/m
// Putting the three together:
//   dL/dx_j = (1/s) [ d_j  -  (1/m) sum_i d_i  -  xhat_j (1/m) sum_i d_i xhat_i ]
//                     (1)         (2)                    (3)
// With d_i = gamma g_i the two sums are gamma * dL/dbeta and gamma * dL/dgamma, so
//   dL/dx_j = (gamma / s) [ g_j - dbeta / m - xhat_j dgamma / m ]
// which needs one pass to form the sums and one to write dx. Dropping term (2) or (3) is the
// classic bug; tests/test_gradcheck_ops.cpp and the PyTorch reference test both catch it.
//
// ---- Evaluation mode ----
// mu and var are given constants (the running statistics), so only path (1) exists:
//   dL/dx_j = gamma g_j / sqrt(running_var + eps),  dL/dgamma and dL/dbeta as above.
//
// ---- How the passes are organised ----
// x is viewed as [N, C, inner] (inner = H*W, or 1 for 2-D input). For 4-D input each (n, c) row
// of `inner` values is contiguous: a row's sum and its squared deviations from its own mean are
// formed in float (vectorised, the row sits in L1 cache), and the rows of a channel are merged in
// double with Chan et al.'s pairwise formula (see Moments), which is exact for the mean and
// stable for the variance. So the statistics take one pass over x, the normalisation another,
// and the backward two (the sums, then dx). For 2-D input the channels are the columns, so the
// loops run along the rows and keep one double accumulator per channel.
#include <fmt/format.h>
#include <omp.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels/grad_buffer.hpp"
#include "kernels/parallel.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/batch_norm.hpp"

namespace normgrad {

namespace {

struct Layout {
    int64_t N, C, inner;  // x viewed as [N, C, inner]; inner = H*W for 4-D, 1 for 2-D
    int64_t m() const { return N * inner; }
    bool parallel() const { return N * C * inner >= kernels::kMinParallelElements; }
};

Layout check_input(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
    if (x.rank() != 2 && x.rank() != 4)
        shape_error(op, fmt::format("needs input [N, C] or [N, C, H, W], got {}", x.shape().str()));
    const int64_t C = x.dim(1);
    for (const Tensor* t : {&gamma, &beta})
        if (t->defined() && (t->rank() != 1 || t->dim(0) != C))
            shape_error(op, fmt::format("{} has shape {} but input {} has {} channels (need [{}])",
                                        t == &gamma ? "gamma" : "beta", t->shape().str(),
                                        x.shape().str(), C, C));
    return {x.dim(0), C, x.rank() == 4 ? x.dim(2) * x.dim(3) : 1};
}

// Count, mean and M2 (sum of squared deviations from the mean) of a growing set of values.
// merge() adds a group with its own count, mean and M2 (Chan, Golub and LeVeque):
//   delta = mean_b - mean_a,  mean = mean_a + delta n_b / n,  M2 = M2_a + M2_b + delta^2 n_a n_b /
//   n
struct Moments {
    double count = 0.0, mean = 0.0, m2 = 0.0;
    void merge(double n_b, double mean_b, double m2_b) {
        const double n = count + n_b, delta = mean_b - mean;
        mean += delta * n_b / n;
        m2 += m2_b + delta * delta * count * n_b / n;
        count = n;
    }
};

float row_sum(const float* p, int64_t n) {
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s;
}

// Per channel: the mean and the biased variance (M2 / m) of x.
void channel_moments(const Layout& L, const float* x, std::vector<float>& mean,
                     std::vector<float>& var) {
    const auto m = static_cast<double>(L.m());
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
            mean[size_t(c)] = static_cast<float>(s[size_t(c)]);
            var[size_t(c)] = static_cast<float>(ss[size_t(c)] / m);
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
        mean[size_t(c)] = static_cast<float>(acc.mean);
        var[size_t(c)] = static_cast<float>(acc.m2 / m);
    }
}

// y = gamma * (x - mean) * invstd + beta, per channel: y = a (x - mean) + beta.
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

// Per channel: sum_i g_i and sum_i g_i xhat_i  (that is, dbeta and dgamma).
void channel_sums(const Layout& L, const float* x, const float* g, const float* mean,
                  const float* invstd, std::vector<double>& sum_g, std::vector<double>& sum_gx,
                  double* plane_squares = nullptr) {
    sum_g.assign(static_cast<size_t>(L.C), 0.0);
    sum_gx.assign(static_cast<size_t>(L.C), 0.0);
    if (L.inner == 1) {
        for (int64_t n = 0; n < L.N; ++n)
            for (int64_t c = 0; c < L.C; ++c) {
                const int64_t j = n * L.C + c;
                sum_g[size_t(c)] += g[j];
                sum_gx[size_t(c)] += static_cast<double>(g[j]) * (x[j] - mean[c]);
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
                    // (For the gradient statistics, when asked: ||g||^2 of this plane, in cache.)
                    if (plane_squares)
                        plane_squares[n * L.C + c] = sum_of_squares(g + off, L.inner);
                }
        }
        for (int t = 0; t < threads; ++t)
            for (int64_t c = 0; c < L.C; ++c) {
                sum_g[size_t(c)] += parts[size_t(2 * t * L.C + c)];
                sum_gx[size_t(c)] += parts[size_t((2 * t + 1) * L.C + c)];
            }
    }
    for (int64_t c = 0; c < L.C; ++c) sum_gx[size_t(c)] *= invstd[c];
}

void add_affine_grads(const Layout& L, const Tensor& gamma, const Tensor& beta,
                      const std::vector<double>& sum_g, const std::vector<double>& sum_gx) {
    for (auto [t, sums] : {std::pair{&gamma, &sum_gx}, std::pair{&beta, &sum_g}}) {
        if (!t->requires_grad()) continue;
        const GradBuffer d = grad_buffer(*t);
        for (int64_t c = 0; c < L.C; ++c) {
            const auto v = static_cast<float>((*sums)[size_t(c)]);
            d.data[c] = d.accumulate ? d.data[c] + v : v;
        }
    }
}

// Per-channel coefficients of dx in terms of g and x: dx = k1 g + k2 (x - mu) + k3.
struct DxCoefficients {
    std::vector<float> k1, k2, k3, mu;
    explicit DxCoefficients(int64_t C)
        : k1(size_t(C)), k2(size_t(C), 0.f), k3(size_t(C), 0.f), mu(size_t(C), 0.f) {}
};

// dx = k1 g + k2 (x - mu) + k3, elementwise per channel, written or added as dx asks.
void write_dx(const Layout& L, GradBuffer dx, const float* g, const float* x,
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

}  // namespace

Tensor batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                        BatchStats* stats) {
    const Layout L = check_input("batch_norm", x, gamma, beta);
    const int64_t m = L.m();
    if (m <= 1)
        throw std::invalid_argument(fmt::format(
            "batch_norm: expected more than 1 value per channel when training, got input {} "
            "({} value per channel): the variance of one value is 0",
            x.shape().str(), m));

    auto mean = std::make_shared<std::vector<float>>(static_cast<size_t>(L.C));
    auto invstd = std::make_shared<std::vector<float>>(static_cast<size_t>(L.C));
    std::vector<float> var(static_cast<size_t>(L.C));
    const float* xp = x.data();
    channel_moments(L, xp, *mean, var);
    for (int64_t c = 0; c < L.C; ++c)
        (*invstd)[size_t(c)] = static_cast<float>(1.0 / std::sqrt(double(var[size_t(c)]) + eps));
    if (stats) {
        stats->mean = *mean;
        stats->var = var;
        stats->count = m;
    }

    Tensor y = Tensor::empty(x.shape());
    normalise(L, xp, mean->data(), invstd->data(), gamma.defined() ? gamma.data() : nullptr,
              beta.defined() ? beta.data() : nullptr, y.data());

    if (autograd::needs_grad({&x, &gamma, &beta})) {
        autograd::record("batch_norm", {x, gamma, beta}, y, [x, gamma, beta, y, mean, invstd, L] {
            const float* g = y.grad();
            const float* xv = x.data();
            std::vector<double> sum_g, sum_gx;
            // The gradient statistics may ask for ||g||^2 (autograd::output_grad_squares_request):
            // for images (inner > 1) it is summed plane by plane in the pass below, then added in
            // plane order; for BatchNorm1d the statistics take their own pass.
            OutputGradSquares squares(L.N * L.C, /*measurable=*/L.inner > 1);
            channel_sums(L, xv, g, mean->data(), invstd->data(), sum_g, sum_gx, squares.parts());
            squares.finish();
            add_affine_grads(L, gamma, beta, sum_g, sum_gx);
            if (!x.requires_grad()) return;
            // dx_j = (gamma / s) [ g_j - dbeta / m - xhat_j dgamma / m ]   (see the top of file)
            // with xhat_j = (x_j - mu) / s, that is per channel k1 g_j + k2 (x_j - mu) + k3 with
            //   k1 = gamma / s,  k2 = -k1 (dgamma / m) / s,  k3 = -k1 dbeta / m.
            const auto m = static_cast<double>(L.m());
            const float* gm = gamma.defined() ? gamma.data() : nullptr;
            DxCoefficients k(L.C);
            for (int64_t c = 0; c < L.C; ++c) {
                const size_t cc = static_cast<size_t>(c);
                const double is = (*invstd)[cc];
                const double a = (gm ? gm[c] : 1.0) * is;
                k.k1[cc] = static_cast<float>(a);
                k.k2[cc] = static_cast<float>(-a * (sum_gx[cc] / m) * is);
                k.k3[cc] = static_cast<float>(-a * (sum_g[cc] / m));
                k.mu[cc] = (*mean)[cc];
            }
            write_dx(L, grad_buffer(x), g, xv, k);
        });
    }
    return y;
}

Tensor batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const Tensor& running_mean, const Tensor& running_var, float eps) {
    const Layout L = check_input("batch_norm (eval)", x, gamma, beta);
    for (const Tensor* t : {&running_mean, &running_var})
        if (!t->defined() || t->rank() != 1 || t->dim(0) != L.C)
            shape_error("batch_norm (eval)",
                        fmt::format("{} must have shape [{}] for input {}",
                                    t == &running_mean ? "running_mean" : "running_var", L.C,
                                    x.shape().str()));
    auto mean = std::make_shared<std::vector<float>>(running_mean.to_vector());
    auto invstd = std::make_shared<std::vector<float>>(static_cast<size_t>(L.C));
    for (int64_t c = 0; c < L.C; ++c)
        (*invstd)[size_t(c)] =
            static_cast<float>(1.0 / std::sqrt(double(running_var.data()[c]) + eps));

    Tensor y = Tensor::empty(x.shape());
    normalise(L, x.data(), mean->data(), invstd->data(), gamma.defined() ? gamma.data() : nullptr,
              beta.defined() ? beta.data() : nullptr, y.data());

    if (autograd::needs_grad({&x, &gamma, &beta})) {
        autograd::record(
            "batch_norm_eval", {x, gamma, beta}, y, [x, gamma, beta, y, mean, invstd, L] {
                const float* g = y.grad();
                std::vector<double> sum_g, sum_gx;
                channel_sums(L, x.data(), g, mean->data(), invstd->data(), sum_g, sum_gx);
                add_affine_grads(L, gamma, beta, sum_g, sum_gx);
                if (!x.requires_grad()) return;
                // Statistics are constants here: dx = gamma g / sqrt(var + eps), that is k1 g.
                const float* gm = gamma.defined() ? gamma.data() : nullptr;
                DxCoefficients k(L.C);
                for (int64_t c = 0; c < L.C; ++c)
                    k.k1[size_t(c)] = (gm ? gm[c] : 1.f) * (*invstd)[size_t(c)];
                write_dx(L, grad_buffer(x), g, x.data(), k);  // k2 = k3 = 0
            });
    }
    return y;
}

}  // namespace normgrad
