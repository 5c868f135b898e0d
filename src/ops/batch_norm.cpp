// Batch normalisation, the operation: forward, running statistics, backward.
//
// Read src/ops/batch_norm_reference.cpp first: the same maths in plain loops. This file computes
// it fast, with the passes over memory in src/kernels/batch_norm.cpp; the layer
// (layers/batch_norm.cpp) only owns gamma, beta and the running buffers and calls this.
//
// Per channel c (a feature of [N, C] input, or a channel of [N, C, H, W] input) over its
// m = N (or N*H*W) values x_i:
//
//   mu      = (1/m) sum_i x_i
//   var     = (1/m) sum_i (x_i - mu)^2          (biased: divides by m, as PyTorch normalises)
//   xhat_i  = (x_i - mu) / sqrt(var + eps)      (eps inside the square root)
//   y_i     = gamma * xhat_i + beta
//
// ---- Running statistics (training with running buffers) ----
// A trained network must classify one example alone, so training also keeps estimates of each
// channel's mean and variance for evaluation (PyTorch's rule, torch/nn/modules/batchnorm.py):
//   t = num_batches_tracked += 1
//   f = momentum, or 1/t when momentum is none (a cumulative average of the batch statistics)
//   running_mean = (1 - f) running_mean + f mu
//   running_var  = (1 - f) running_var  + f var * m / (m - 1)
// The running variance takes the *unbiased* batch variance (divide by m - 1): it estimates the
// variance of the whole population, while normalisation describes this batch. Momentum is the
// weight of the new batch (Keras' momentum is the weight of the old value: 0.99 there is 0.01
// here). These buffers are not differentiated: they change outside the tape.
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
// classic bug; tests/test_gradcheck_ops.cpp, the PyTorch reference test and the comparison with
// the plain reference (tests/test_batchnorm_fast_vs_reference.cpp) all catch it.
//
// ---- SyncBatchNorm: the batch spread over ranks ----
// Rank r holds n_r of the m = sum_r n_r values. Its count, mean and M2 = sum (x - mean_r)^2 are
// all a rank needs to send: merging them pairwise (Chan et al., kernels::bn::Moments) gives the
// global mean and M2 exactly, whatever the slice sizes, without the cancellation of
// E[x^2] - E[x]^2. The backward formula above holds with global sums: dbeta and dgamma in it are
// sums over all m values of g and g xhat, so each rank adds its part and the ranks add theirs
// (one all-reduce of 2C numbers); m is the global count.
//
// ---- Evaluation mode ----
// mu and var are given constants (the running statistics), so only path (1) exists:
//   dL/dx_j = gamma g_j / sqrt(running_var + eps),  dL/dgamma and dL/dbeta as above.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels/batch_norm.hpp"
#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/communicator.hpp"
#include "normgrad/ops/batch_norm.hpp"
#include "ops/output_grad.hpp"

namespace normgrad {

namespace {

using kernels::bn::Layout;

Layout check_input(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                   const Tensor& running_mean, const Tensor& running_var,
                   const Tensor& num_batches_tracked) {
    if (x.rank() != 2 && x.rank() != 4)
        shape_error(op, fmt::format("needs input [N, C] or [N, C, H, W], got {}", x.shape().str()));
    const int64_t C = x.dim(1);
    for (const Tensor* t : {&gamma, &beta})
        if (t->defined() && (t->rank() != 1 || t->dim(0) != C))
            shape_error(op, fmt::format("{} has shape {} but input {} has {} channels (need [{}])",
                                        t == &gamma ? "gamma" : "beta", t->shape().str(),
                                        x.shape().str(), C, C));
    if (running_mean.defined() != running_var.defined())
        throw std::invalid_argument(fmt::format(
            "{}: running_mean and running_var must be both given or both undefined", op));
    for (const Tensor* t : {&running_mean, &running_var})
        if (t->defined() && (t->rank() != 1 || t->dim(0) != C))
            shape_error(op, fmt::format("{} must have shape [{}] for input {}, got {}",
                                        t == &running_mean ? "running_mean" : "running_var", C,
                                        x.shape().str(), t->shape().str()));
    if (num_batches_tracked.defined() && num_batches_tracked.numel() != 1)
        shape_error(op, fmt::format("num_batches_tracked must hold one value, got {}",
                                    num_batches_tracked.shape().str()));
    return {x.dim(0), C, x.rank() == 4 ? x.dim(2) * x.dim(3) : 1};
}

// running = (1 - f) running + f batch, the variance unbiased (see the top of the file).
void update_running_stats(const Tensor& running_mean, const Tensor& running_var,
                          const Tensor& num_batches_tracked, std::optional<float> momentum,
                          const std::vector<float>& mean, const std::vector<float>& var,
                          int64_t count) {
    if (!momentum && !num_batches_tracked.defined())
        throw std::invalid_argument(
            "batch_norm: momentum none (a cumulative average) needs num_batches_tracked");
    float t = 0.f;  // the number of this batch
    if (num_batches_tracked.defined()) t = num_batches_tracked.data()[0] += 1.f;
    const float f = momentum ? *momentum : 1.f / t;
    const auto m = static_cast<float>(count);
    const float unbias = m / (m - 1.f);
    float* rm = running_mean.data();
    float* rv = running_var.data();
    for (size_t c = 0; c < mean.size(); ++c) {
        rm[c] = (1.f - f) * rm[c] + f * mean[c];
        rv[c] = (1.f - f) * rv[c] + f * var[c] * unbias;
    }
}

// dgamma = sum_i g_i xhat_i, dbeta = sum_i g_i: written or added, as each gradient asks.
void add_affine_grads(const Tensor& gamma, const Tensor& beta, const std::vector<double>& sum_g,
                      const std::vector<double>& sum_gxhat) {
    for (auto [t, sums] : {std::pair{&gamma, &sum_gxhat}, std::pair{&beta, &sum_g}}) {
        if (!t->requires_grad()) continue;
        const GradBuffer d = grad_buffer(*t);
        for (size_t c = 0; c < sums->size(); ++c) {
            const auto v = static_cast<float>((*sums)[c]);
            d.data[c] = d.accumulate ? d.data[c] + v : v;
        }
    }
}

// The global batch's mean and M2 per channel, from every rank's count, mean and M2 merged in
// rank order (the same on every rank). Returns the global count.
int64_t global_moments(const Communicator& sync, const Layout& L, const float* x, float* mean,
                       std::vector<float>& var) {
    const auto C = size_t(L.C);
    std::vector<double> mine(1 + 2 * C);
    mine[0] = double(L.m());
    kernels::bn::channel_moments(L, x, mine.data() + 1, mine.data() + 1 + C);
    const std::vector<double> all = sync.all_gather(mine);
    const size_t ranks = all.size() / mine.size();
    double count = 0;
    for (size_t r = 0; r < ranks; ++r) count += all[r * mine.size()];
    for (size_t c = 0; c < C; ++c) {
        kernels::bn::Moments acc;
        for (size_t r = 0; r < ranks; ++r) {
            const double* p = all.data() + r * mine.size();
            acc.merge(p[0], p[1 + c], p[1 + C + c]);
        }
        mean[c] = static_cast<float>(acc.mean);
        var[c] = count > 0 ? static_cast<float>(acc.m2 / count) : 0.f;
    }
    return static_cast<int64_t>(count);
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& num_batches_tracked, bool training, std::optional<float> momentum,
                  float eps, BatchStats* stats, const Communicator* sync) {
    const bool batch_stats = training || !running_mean.defined();
    const char* op = batch_stats ? "batch_norm" : "batch_norm (eval)";
    if (momentum && !(*momentum >= 0.f && *momentum <= 1.f))
        throw std::invalid_argument(fmt::format(
            "batch_norm: momentum must lie in [0, 1] (the new batch's weight, as in PyTorch), "
            "got {}",
            *momentum));
    if (!(eps > 0.f))
        throw std::invalid_argument(fmt::format("batch_norm: eps must be positive, got {}", eps));
    const Layout L =
        check_input(op, x, gamma, beta, running_mean, running_var, num_batches_tracked);
    const auto C = static_cast<size_t>(L.C);

    // The statistics to normalise with: mu and s = sqrt(var + eps), kept as 1/s.
    auto mean = std::make_shared<std::vector<float>>(C);
    auto invstd = std::make_shared<std::vector<float>>(C);
    int64_t count = L.m();             // the values per channel in the batch (all ranks' with sync)
    if (!batch_stats) sync = nullptr;  // the running statistics are every rank's own
    if (batch_stats) {
        std::vector<float> var(C);
        if (sync) count = global_moments(*sync, L, x.data(), mean->data(), var);
        if (count <= 1)
            throw std::invalid_argument(fmt::format(
                "batch_norm: expected more than 1 value per channel when training, got input {} "
                "({} value per channel{}): the variance of one value is 0",
                x.shape().str(), count, sync ? " over all ranks" : ""));
        if (!sync) kernels::bn::channel_moments(L, x.data(), mean->data(), var.data());
        for (size_t c = 0; c < C; ++c)
            (*invstd)[c] = static_cast<float>(1.0 / std::sqrt(double(var[c]) + eps));
        if (training && running_mean.defined())
            update_running_stats(running_mean, running_var, num_batches_tracked, momentum, *mean,
                                 var, count);
        if (stats) *stats = {*mean, var, count};
    } else {
        *mean = running_mean.to_vector();
        for (size_t c = 0; c < C; ++c)
            (*invstd)[c] = static_cast<float>(1.0 / std::sqrt(double(running_var.data()[c]) + eps));
    }

    // y = gamma xhat + beta
    Tensor y = Tensor::empty(x.shape());
    kernels::bn::normalise(L, x.data(), mean->data(), invstd->data(),
                           gamma.defined() ? gamma.data() : nullptr,
                           beta.defined() ? beta.data() : nullptr, y.data());

    if (!autograd::needs_grad({&x, &gamma, &beta})) return y;
    // Saved for backward: x, gamma, beta, y (whose gradient is g), the statistics mean and invstd.
    // (With sync, also the communicator and the global count.)
    auto backward = [x, gamma, beta, y, mean, invstd, L, batch_stats, sync, count] {
        const float* g = y.grad();
        // dbeta = sum_i g_i, dgamma = sum_i g_i xhat_i
        std::vector<double> dbeta(L.C), dgamma(L.C);
        kernels::bn::channel_sums(L, x.data(), g, mean->data(), invstd->data(), dbeta.data(),
                                  dgamma.data());
        add_affine_grads(gamma, beta, dbeta, dgamma);
        if (!x.requires_grad()) return;
        if (sync) {  // the sums over the global batch (see SyncBatchNorm above)
            std::vector<double> sums(dbeta);
            sums.insert(sums.end(), dgamma.begin(), dgamma.end());
            sync->all_reduce_sum(sums);
            std::copy(sums.begin(), sums.begin() + L.C, dbeta.begin());
            std::copy(sums.begin() + L.C, sums.end(), dgamma.begin());
        }
        // Training: dx_j = (gamma / s) [ g_j - dbeta / m - xhat_j dgamma / m ], and with
        // xhat_j = (x_j - mu) / s that is, per channel, dx_j = k1 g_j + k2 (x_j - mu) + k3 with
        //   k1 = gamma / s,  k2 = -k1 (dgamma / m) / s  (term 3),  k3 = -k1 dbeta / m  (term 2).
        // Evaluation: mu and s are constants, only term (1) remains: dx_j = k1 g_j.
        const auto m = static_cast<double>(count);
        const float* gm = gamma.defined() ? gamma.data() : nullptr;
        kernels::bn::DxCoefficients k(L.C);
        for (size_t c = 0; c < size_t(L.C); ++c) {
            const double is = (*invstd)[c];
            const double k1 = (gm ? gm[c] : 1.0) * is;
            k.k1[c] = static_cast<float>(k1);
            if (!batch_stats) continue;
            k.k2[c] = static_cast<float>(-k1 * (dgamma[c] / m) * is);
            k.k3[c] = static_cast<float>(-k1 * (dbeta[c] / m));
            k.mu[c] = (*mean)[c];
        }
        // (Each dx_j from g_j and x_j alone, the sums taken: dx may be written over g.)
        kernels::bn::input_grad(L, grad_buffer_over(x, y), g, x.data(), k);
    };
    autograd::record(batch_stats ? "batch_norm" : "batch_norm_eval", {x, gamma, beta}, y, backward);
    return y;
}

}  // namespace normgrad
