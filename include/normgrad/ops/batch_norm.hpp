// Batch normalisation (src/ops/batch_norm.cpp, where the backward is derived). Part of ops.hpp.
// The layer with running statistics is BatchNorm1d/2d (normgrad/layers/batch_norm.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad {

// Normalises over N for 2-D input [N, C] and over (N, H, W) per channel for 4-D input [N, C, H, W].
// gamma and beta ([C]) may be undefined (affine = false).
struct BatchStats {
    std::vector<float> mean;  // per channel
    std::vector<float> var;   // biased (divides by m): what normalisation uses
    int64_t count = 0;        // m, the values per channel
};
// Training mode: normalise with this batch's mean and biased variance; fills `stats` when given.
// Throws std::invalid_argument when a channel has a single value (m == 1).
Tensor batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                        BatchStats* stats = nullptr);
// Evaluation mode: normalise with given statistics (running_mean, running_var: [C]).
Tensor batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const Tensor& running_mean, const Tensor& running_var, float eps);

}  // namespace normgrad
