// Batch normalisation (src/ops/batch_norm.cpp, where the backward is derived; the same in plain
// loops: normgrad/batch_norm_reference.hpp). Part of ops.hpp. The layer that owns gamma, beta
// and the running statistics is BatchNorm1d/2d (normgrad/layers/batch_norm.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad {

class Communicator;  // communicator.hpp

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
//
// SyncBatchNorm: with `sync` (communicator.hpp), the batch is the union of every rank's x (the
// ranks' slices of one global batch; each rank calls batch_norm with its own slice, the same
// layer and arguments otherwise). The forward gathers each rank's count, mean and M2 and merges
// them with Chan's count-weighted formula (exact for slices of different sizes); normalisation,
// the running statistics (unbiased with the global count m) and `stats` use the global batch,
// and m == 1 is refused only for the global batch (a rank may hold a single value, or none). The
// backward sums each channel's sum of g and of g * xhat over the ranks for the input gradient;
// gamma and beta receive this rank's part only (the ranks' gradients are summed afterwards, with
// every other parameter's). Collective: every rank must run the same forwards and backwards.
struct BatchStats {
    std::vector<float> mean;  // per channel
    std::vector<float> var;   // biased (divides by m): what normalisation uses
    int64_t count = 0;        // m, the values per channel
};
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& num_batches_tracked, bool training, std::optional<float> momentum,
                  float eps, BatchStats* stats = nullptr, const Communicator* sync = nullptr);

}  // namespace normgrad
