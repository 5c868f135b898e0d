// A plain BatchNorm in loops: read this first (declarations: batch_norm_reference.hpp).
//
// Every quantity is computed the way the formula is written, one channel at a time, in double
// precision. src/ops/batch_norm.cpp computes the same thing fast and on the tape, and is tested
// against this file.
//
// Indexing: x[(n * C + c) * S + s] is value s (a pixel, or the only value when S = 1) of channel c
// of example n. For one channel c the loops `for n, for s` visit its m = N * S values.
#include "normgrad/batch_norm_reference.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace normgrad::reference {

namespace {

int64_t at(int64_t n, int64_t c, int64_t s, int64_t C, int64_t S) {
    return (n * C + c) * S + s;
}

}  // namespace

BatchNormForward batch_norm_forward(const std::vector<float>& x, int64_t N, int64_t C, int64_t S,
                                    const std::vector<float>& gamma, const std::vector<float>& beta,
                                    RunningStats* running, bool training,
                                    std::optional<float> momentum, float eps) {
    const int64_t m = N * S;  // values per channel
    // Batch statistics when training, and also in evaluation when there are no running ones.
    const bool batch_statistics = training || running == nullptr;
    if (batch_statistics && m <= 1)
        throw std::invalid_argument(fmt::format(
            "reference batch_norm: expected more than 1 value per channel when training, got {}",
            m));

    BatchNormForward out;
    out.y.resize(size_t(N * C * S));
    out.mean.resize(size_t(C));
    out.invstd.resize(size_t(C));
    out.batch_statistics = batch_statistics;
    if (batch_statistics) out.var.resize(size_t(C));

    // In training with running statistics, this is the t-th batch they see.
    double t = 0.0;
    if (training && running) t = running->num_batches_tracked += 1.f;

    for (int64_t c = 0; c < C; ++c) {
        double mean, var;
        if (batch_statistics) {
            // mu = (1/m) sum_i x_i
            double sum = 0.0;
            for (int64_t n = 0; n < N; ++n)
                for (int64_t s = 0; s < S; ++s) sum += x[size_t(at(n, c, s, C, S))];
            mean = sum / double(m);
            // var = (1/m) sum_i (x_i - mu)^2, the biased variance (divides by m)
            double squares = 0.0;
            for (int64_t n = 0; n < N; ++n)
                for (int64_t s = 0; s < S; ++s) {
                    const double d = x[size_t(at(n, c, s, C, S))] - mean;
                    squares += d * d;
                }
            var = squares / double(m);
            out.var[size_t(c)] = var;

            if (training && running) {
                // running = (1 - f) running + f batch, f = momentum or 1/t (cumulative average);
                // the running variance takes the unbiased batch variance, var * m / (m - 1).
                const double f = momentum ? double(*momentum) : 1.0 / t;
                const double unbiased_var = var * double(m) / double(m - 1);
                float& rm = running->mean[size_t(c)];
                float& rv = running->var[size_t(c)];
                rm = float((1.0 - f) * rm + f * mean);
                rv = float((1.0 - f) * rv + f * unbiased_var);
            }
        } else {
            // Evaluation: the running statistics, which this batch does not change.
            mean = running->mean[size_t(c)];
            var = running->var[size_t(c)];
        }

        // xhat_i = (x_i - mu) / sqrt(var + eps),  y_i = gamma xhat_i + beta
        const double invstd = 1.0 / std::sqrt(var + double(eps));
        const double g = gamma.empty() ? 1.0 : gamma[size_t(c)];
        const double b = beta.empty() ? 0.0 : beta[size_t(c)];
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                const size_t i = size_t(at(n, c, s, C, S));
                const double xhat = (x[i] - mean) * invstd;
                out.y[i] = float(g * xhat + b);
            }
        out.mean[size_t(c)] = mean;
        out.invstd[size_t(c)] = invstd;
    }
    return out;
}

BatchNormGrads batch_norm_backward(const std::vector<float>& dy, const std::vector<float>& x,
                                   int64_t N, int64_t C, int64_t S, const std::vector<float>& gamma,
                                   const BatchNormForward& saved) {
    const auto m = double(N * S);
    BatchNormGrads grads;
    grads.dx.resize(size_t(N * C * S));
    grads.dgamma.resize(size_t(C));
    grads.dbeta.resize(size_t(C));

    for (int64_t c = 0; c < C; ++c) {
        const double mean = saved.mean[size_t(c)], invstd = saved.invstd[size_t(c)];
        const double g = gamma.empty() ? 1.0 : gamma[size_t(c)];
        auto xhat = [&](size_t i) { return (x[i] - mean) * invstd; };

        // dL/dbeta = sum_i dy_i,  dL/dgamma = sum_i dy_i xhat_i
        // and, with d_i = dL/dxhat_i = gamma dy_i, the two sums the input gradient needs.
        double dbeta = 0.0, dgamma = 0.0, sum_d = 0.0, sum_d_xhat = 0.0;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                const size_t i = size_t(at(n, c, s, C, S));
                const double d = g * dy[i];
                dbeta += dy[i];
                dgamma += dy[i] * xhat(i);
                sum_d += d;
                sum_d_xhat += d * xhat(i);
            }
        grads.dbeta[size_t(c)] = float(dbeta);
        grads.dgamma[size_t(c)] = float(dgamma);

        // dL/dx_j = (1/s) [ d_j - (1/m) sum_i d_i - xhat_j (1/m) sum_i d_i xhat_i ]
        //                   (1)        (2)                      (3)
        // (1) through xhat_j itself, (2) through the mean, (3) through the variance. In
        // evaluation the mean and variance are constants, so only (1) is there.
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                const size_t i = size_t(at(n, c, s, C, S));
                const double d = g * dy[i];
                double dxhat = d;  // (1)
                if (saved.batch_statistics) {
                    dxhat -= sum_d / m;                 // (2)
                    dxhat -= xhat(i) * sum_d_xhat / m;  // (3)
                }
                grads.dx[i] = float(dxhat * invstd);
            }
    }
    return grads;
}

}  // namespace normgrad::reference
