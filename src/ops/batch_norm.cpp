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
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"

namespace normgrad {

namespace {

struct Layout {
    int64_t N, C, inner;  // x viewed as [N, C, inner]; inner = H*W for 4-D, 1 for 2-D
    int64_t m() const { return N * inner; }
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

// y = gamma * (x - mean) * invstd + beta, per channel.
void normalise(const Layout& L, const float* x, const float* mean, const float* invstd,
               const float* gamma, const float* beta, float* y) {
#pragma omp parallel for collapse(2) schedule(static) if (L.N * L.C * L.inner > 65536)
    for (int64_t n = 0; n < L.N; ++n)
        for (int64_t c = 0; c < L.C; ++c) {
            const float a = (gamma ? gamma[c] : 1.f) * invstd[c];
            const float b = (beta ? beta[c] : 0.f) - a * mean[c];
            const int64_t off = (n * L.C + c) * L.inner;
            for (int64_t i = 0; i < L.inner; ++i) y[off + i] = a * x[off + i] + b;
        }
}

// Per channel: sum_i g_i and sum_i g_i xhat_i  (that is, dbeta and dgamma).
void channel_sums(const Layout& L, const float* x, const float* g, const float* mean,
                  const float* invstd, std::vector<double>& sum_g, std::vector<double>& sum_gx) {
    sum_g.assign(static_cast<size_t>(L.C), 0.0);
    sum_gx.assign(static_cast<size_t>(L.C), 0.0);
#pragma omp parallel for schedule(static) if (L.N * L.C * L.inner > 65536)
    for (int64_t c = 0; c < L.C; ++c) {
        double sg = 0.0, sgx = 0.0;
        for (int64_t n = 0; n < L.N; ++n) {
            const int64_t off = (n * L.C + c) * L.inner;
            for (int64_t i = 0; i < L.inner; ++i) {
                sg += g[off + i];
                sgx += static_cast<double>(g[off + i]) * (x[off + i] - mean[c]);
            }
        }
        sum_g[static_cast<size_t>(c)] = sg;
        sum_gx[static_cast<size_t>(c)] = sgx * invstd[c];
    }
}

void add_affine_grads(const Layout& L, const Tensor& gamma, const Tensor& beta,
                      const std::vector<double>& sum_g, const std::vector<double>& sum_gx) {
    if (gamma.requires_grad()) {
        float* dg = gamma.mutable_grad();
        for (int64_t c = 0; c < L.C; ++c) dg[c] += static_cast<float>(sum_gx[size_t(c)]);
    }
    if (beta.requires_grad()) {
        float* db = beta.mutable_grad();
        for (int64_t c = 0; c < L.C; ++c) db[c] += static_cast<float>(sum_g[size_t(c)]);
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

    // Two passes per channel (mean, then squared deviations), accumulated in double.
    auto mean = std::make_shared<std::vector<float>>(static_cast<size_t>(L.C));
    auto invstd = std::make_shared<std::vector<float>>(static_cast<size_t>(L.C));
    std::vector<float> var(static_cast<size_t>(L.C));
    const float* xp = x.data();
#pragma omp parallel for schedule(static) if (L.N * L.C * L.inner > 65536)
    for (int64_t c = 0; c < L.C; ++c) {
        double s = 0.0;
        for (int64_t n = 0; n < L.N; ++n) {
            const float* p = xp + (n * L.C + c) * L.inner;
            for (int64_t i = 0; i < L.inner; ++i) s += p[i];
        }
        const double mu = s / static_cast<double>(m);
        double ss = 0.0;
        for (int64_t n = 0; n < L.N; ++n) {
            const float* p = xp + (n * L.C + c) * L.inner;
            for (int64_t i = 0; i < L.inner; ++i) ss += (p[i] - mu) * (p[i] - mu);
        }
        const double v = ss / static_cast<double>(m);
        (*mean)[size_t(c)] = static_cast<float>(mu);
        var[size_t(c)] = static_cast<float>(v);
        (*invstd)[size_t(c)] = static_cast<float>(1.0 / std::sqrt(v + eps));
    }
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
            channel_sums(L, xv, g, mean->data(), invstd->data(), sum_g, sum_gx);
            add_affine_grads(L, gamma, beta, sum_g, sum_gx);
            if (!x.requires_grad()) return;
            // dx_j = (gamma / s) [ g_j - dbeta / m - xhat_j dgamma / m ]   (see the top of file)
            float* dx = x.mutable_grad();
            const auto m = static_cast<double>(L.m());
            const float* gm = gamma.defined() ? gamma.data() : nullptr;
#pragma omp parallel for collapse(2) schedule(static) if (L.N * L.C * L.inner > 65536)
            for (int64_t n = 0; n < L.N; ++n)
                for (int64_t c = 0; c < L.C; ++c) {
                    const size_t cc = static_cast<size_t>(c);
                    const float is = (*invstd)[cc], mu = (*mean)[cc];
                    const float scale = (gm ? gm[c] : 1.f) * is;
                    const float mean_g = static_cast<float>(sum_g[cc] / m);
                    const float mean_gx = static_cast<float>(sum_gx[cc] / m);
                    const int64_t off = (n * L.C + c) * L.inner;
                    for (int64_t i = 0; i < L.inner; ++i) {
                        const float xhat = (xv[off + i] - mu) * is;
                        dx[off + i] += scale * (g[off + i] - mean_g - xhat * mean_gx);
                    }
                }
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
                // Statistics are constants here: dx = gamma g / sqrt(var + eps).
                float* dx = x.mutable_grad();
                const float* gm = gamma.defined() ? gamma.data() : nullptr;
                for (int64_t n = 0; n < L.N; ++n)
                    for (int64_t c = 0; c < L.C; ++c) {
                        const float scale = (gm ? gm[c] : 1.f) * (*invstd)[size_t(c)];
                        const int64_t off = (n * L.C + c) * L.inner;
                        for (int64_t i = 0; i < L.inner; ++i) dx[off + i] += scale * g[off + i];
                    }
            });
    }
    return y;
}

}  // namespace normgrad
