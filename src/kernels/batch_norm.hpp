// The passes of batch normalisation over memory: what src/ops/batch_norm.cpp calls.
//
// The operation (src/ops/batch_norm.cpp) holds the maths; these functions make the four passes
// over the data fast. x is viewed as [N, C, inner] (inner = H*W for [N, C, H, W] input, 1 for
// [N, C]), and each channel's m = N * inner values are reduced together:
//
//   channel_moments   mean_c and the biased variance var_c of each channel      (one pass over x)
//   normalise         y = gamma_c (x - mean_c) invstd_c + beta_c                 (one pass)
//   channel_sums      sum_i g_i and sum_i g_i xhat_i per channel (dbeta, dgamma) (one pass)
//   input_grad        dx = k1_c g + k2_c (x - mu_c) + k3_c                       (one pass)
//
// How: for 4-D input each (n, c) row of `inner` values is contiguous, so a row's sums are formed
// in float (vectorised, the row sits in L1 cache), and the rows of a channel are merged in double:
// the moments with Chan et al.'s pairwise formula (exact for the mean, stable for the variance),
// the gradient sums by addition. Large inputs are split between threads by ranges of n, each
// thread with its own accumulators, merged per channel in thread order, so the result depends on
// the number of threads but is the same from run to run. For 2-D input the channels are the
// columns: the loops run along the rows with one double accumulator per channel.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/grad_buffer.hpp"
#include "kernels/parallel.hpp"

namespace normgrad::kernels::bn {

struct Layout {
    int64_t N, C, inner;  // x viewed as [N, C, inner]; inner = H*W for 4-D, 1 for 2-D
    int64_t m() const { return N * inner; }  // the values per channel
    bool parallel() const { return N * C * inner >= min_parallel_elements(); }
};

// Count, mean and M2 (sum of squared deviations from the mean) of a growing set of values.
// merge() adds a group with its own count, mean and M2 (Chan, Golub and LeVeque):
//   delta = mean_b - mean_a,  mean = mean_a + delta n_b / n,
//   M2 = M2_a + M2_b + delta^2 n_a n_b / n
// exact for groups of any sizes (SyncBatchNorm merges the ranks' slices with it).
struct Moments {
    double count = 0.0, mean = 0.0, m2 = 0.0;
    void merge(double n_b, double mean_b, double m2_b) {
        if (n_b <= 0) return;
        const double n = count + n_b, delta = mean_b - mean;
        mean += delta * n_b / n;
        m2 += m2_b + delta * delta * count * n_b / n;
        count = n;
    }
};

// Per channel c: mean[c] and the biased variance var[c] = (1/m) sum_i (x_i - mean)^2.
void channel_moments(const Layout& L, const float* x, float* mean, float* var);
// The same in double before rounding: mean[c] and m2[c] = sum_i (x_i - mean)^2 (0 and 0 when
// m = 0), what channel_moments divides and rounds.
void channel_moments(const Layout& L, const float* x, double* mean, double* m2);

// y = gamma[c] * (x - mean[c]) * invstd[c] + beta[c] per channel; gamma or beta may be null
// (1 and 0).
void normalise(const Layout& L, const float* x, const float* mean, const float* invstd,
               const float* gamma, const float* beta, float* y);

// Per channel c: sum_g[c] = sum_i g_i and sum_gxhat[c] = sum_i g_i xhat_i, with
// xhat_i = (x_i - mean[c]) * invstd[c]. Both are [C] and written.
void channel_sums(const Layout& L, const float* x, const float* g, const float* mean,
                  const float* invstd, double* sum_g, double* sum_gxhat);

// Per-channel coefficients of the input gradient: dx = k1 g + k2 (x - mu) + k3.
struct DxCoefficients {
    std::vector<float> k1, k2, k3, mu;
    explicit DxCoefficients(int64_t C)
        : k1(size_t(C)), k2(size_t(C), 0.f), k3(size_t(C), 0.f), mu(size_t(C), 0.f) {}
};

// dx = k1[c] g + k2[c] (x - mu[c]) + k3[c], elementwise per channel, written or added as dx asks.
void input_grad(const Layout& L, GradBuffer dx, const float* g, const float* x,
                const DxCoefficients& k);

}  // namespace normgrad::kernels::bn
