// Batch normalisation (src/ops/batch_norm.cpp, where the backward is derived; the same in plain
// loops: normgrad/batch_norm_reference.hpp). Part of ops.hpp. The layer that owns gamma, beta
// and the running statistics is BatchNorm1d/2d (normgrad/layers/batch_norm.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad {

// Normalises over N for 2-D input [N, C] and over (N, H, W) per channel for 4-D input [N, C, H, W],
// as PyTorch's F.batch_norm (torch/nn/functional.py):
//  - training, or no running statistics (running_mean and running_var undefined, PyTorch's
//    track_running_stats = False): normalise with this batch's mean and *biased* variance.
//    Throws std::invalid_argument when a channel has a single value (m == 1).
//    In training with running statistics, also update them in place, outside the tape:
//      num_batches_tracked += 1   (when defined; it is required for momentum = std::nullopt)
//      running = (1 - f) * running + f * batch_statistic,  f = momentum, or 1/num_batches_tracked
//    where the running variance takes the *unbiased* batch variance (m / (m - 1) times the biased).
//  - evaluation with running statistics: normalise with them; nothing is updated.
// gamma and beta ([C]) may be undefined (affine = false); running_mean, running_var: [C];
// num_batches_tracked: one value. `stats`, when given, receives the batch statistics whenever
// they are used.
struct BatchStats {
    std::vector<float> mean;  // per channel
    std::vector<float> var;   // biased (divides by m): what normalisation uses
    int64_t count = 0;        // m, the values per channel
};
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& num_batches_tracked, bool training, std::optional<float> momentum,
                  float eps, BatchStats* stats = nullptr);

}  // namespace normgrad
