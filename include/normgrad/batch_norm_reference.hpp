// A plain BatchNorm, to read first: the maths of batch normalisation in straightforward loops.
//
// No tape, no threads, no vectorisation, no merging of partial sums: the forward pass, the
// running statistics and the backward pass written as loops over (n, c, s) in double precision,
// as llm.c writes layernorm_forward / layernorm_backward. It is slow and it is the definition:
// the fast operation (normgrad::batch_norm, src/ops/batch_norm.cpp) is tested against it
// (tests/test_batchnorm_fast_vs_reference.cpp), and it is tested against PyTorch
// (tests/test_batchnorm_reference.cpp). Implementation and comments:
// src/ops/batch_norm_reference.cpp.
//
// Layout: x is [N, C] (BatchNorm1d) or [N, C, H, W] (BatchNorm2d), row-major. Write S = H * W
// (S = 1 for [N, C]); value s of channel c of example n is x[(n * C + c) * S + s]. Each channel's
// m = N * S values are normalised together.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace normgrad::reference {

// The running statistics a BatchNorm layer keeps between batches (PyTorch's buffers).
struct RunningStats {
    std::vector<float> mean;  // [C], starts at 0
    std::vector<float> var;   // [C], starts at 1
    float num_batches_tracked = 0.f;
};

// What the forward pass returns, and what the backward pass needs.
struct BatchNormForward {
    std::vector<float> y;        // the output, shaped like x
    std::vector<double> mean;    // [C] the mean y was normalised with (the batch's or the running)
    std::vector<double> invstd;  // [C] 1 / sqrt(var + eps) with that variance
    std::vector<double> var;     // [C] the batch's biased variance (empty in evaluation)
    bool batch_statistics = true;  // mean and invstd are this batch's (the backward's 3 terms)
};

struct BatchNormGrads {
    std::vector<float> dx;      // shaped like x
    std::vector<float> dgamma;  // [C] what gamma would receive (computed even without gamma)
    std::vector<float> dbeta;   // [C] what beta would receive
};

// y = gamma (x - mu) / sqrt(var + eps) + beta per channel. gamma and beta: [C], or empty for
// none (affine = false). running: nullptr for no running statistics (PyTorch's
// track_running_stats = false: batch statistics in both modes); otherwise, in training, updated
// in place (momentum std::nullopt: cumulative average), and in evaluation used to normalise.
// Throws std::invalid_argument when training with a single value per channel.
BatchNormForward batch_norm_forward(const std::vector<float>& x, int64_t N, int64_t C, int64_t S,
                                    const std::vector<float>& gamma, const std::vector<float>& beta,
                                    RunningStats* running, bool training,
                                    std::optional<float> momentum, float eps);

// The gradients of L given dy = dL/dy, for the forward pass that returned `saved` (the same x and
// gamma; gamma empty means 1).
BatchNormGrads batch_norm_backward(const std::vector<float>& dy, const std::vector<float>& x,
                                   int64_t N, int64_t C, int64_t S, const std::vector<float>& gamma,
                                   const BatchNormForward& saved);

}  // namespace normgrad::reference
