// Softmax and cross-entropy fused into one operation.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/cross_entropy.hpp"

namespace normgrad {

Tensor cross_entropy(const Tensor& logits, std::span<const int32_t> labels) {
    if (logits.rank() != 2)
        shape_error("cross_entropy",
                    fmt::format("needs logits [N, K], got {}", logits.shape().str()));
    const int64_t N = logits.dim(0), K = logits.dim(1);
    if (static_cast<int64_t>(labels.size()) != N)
        shape_error("cross_entropy", fmt::format("logits {} hold {} rows but {} labels were given",
                                                 logits.shape().str(), N, labels.size()));
    if (N == 0) shape_error("cross_entropy", "the batch is empty");
    for (int64_t n = 0; n < N; ++n)
        if (labels[n] < 0 || labels[n] >= K)
            shape_error("cross_entropy",
                        fmt::format("label {} at row {} is outside [0, {})", labels[n], n, K));

    // loss_n = log(sum_k e^{z_k}) - z_label, with the log-sum-exp shifted by max_k z_k so that
    // no exponent is positive (e^{z - max} <= 1 never overflows). The softmax is kept for backward.
    Tensor probs = Tensor::empty(logits.shape());
    const float* z = logits.data();
    float* p = probs.data();
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) {
        const float* zr = z + n * K;
        float* pr = p + n * K;
        const float m = *std::max_element(zr, zr + K);
        double s = 0.0;
        for (int64_t k = 0; k < K; ++k) s += std::exp(static_cast<double>(zr[k] - m));
        const double lse = m + std::log(s);
        for (int64_t k = 0; k < K; ++k) pr[k] = static_cast<float>(std::exp(zr[k] - lse));
        total += lse - zr[labels[n]];
    }
    Tensor loss = Tensor::scalar(static_cast<float>(total / static_cast<double>(N)));

    if (autograd::needs_grad({&logits})) {
        // L = (1/N) sum_n [lse(z_n) - z_n,label].  d lse/dz_k = softmax_k, so
        //   dL/dz_{n,k} = (softmax(z_n)_k - [k == label_n]) / N.
        std::vector<int32_t> saved(labels.begin(), labels.end());
        autograd::record("cross_entropy", {logits}, loss,
                         [logits, loss, probs, saved = std::move(saved), N, K] {
                             const float g = loss.grad()[0] / static_cast<float>(N);
                             const float* pr = probs.data();
                             const int32_t* label = saved.data();
                             write_grad(grad_buffer(logits), N * K, [=](int64_t i) {
                                 const int64_t n = i / K, k = i % K;
                                 return g * (pr[i] - (k == label[n] ? 1.f : 0.f));
                             });
                         });
    }
    return loss;
}

}  // namespace normgrad
