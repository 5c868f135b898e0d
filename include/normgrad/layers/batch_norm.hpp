// BatchNorm1d and BatchNorm2d: the batch_norm operation plus gamma, beta and running statistics
// (layers/batch_norm.cpp). Part of layers.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "normgrad/module.hpp"
#include "normgrad/ops/batch_norm.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

// BatchNorm with PyTorch's contract (torch/nn/modules/batchnorm.py):
//  - training: normalise with the batch mean and *biased* variance; update
//      running = (1 - momentum) * running + momentum * batch_statistic
//    where the running variance takes the *unbiased* batch variance (m / (m - 1) times the
//    biased one); momentum "none" (std::nullopt) means a cumulative average, momentum = 1 / t
//    at the t-th batch; num_batches_tracked counts the training batches.
//  - evaluation: normalise with the running statistics and update nothing.
//  - track_running_stats = false: no running statistics at all; batch statistics in both modes.
//  - affine: learnable gamma (starts at 1) and beta (starts at 0).
struct BatchNormOptions {
    float eps = 1e-5f;
    std::optional<float> momentum = 0.1f;
    bool affine = true;
    bool track_running_stats = true;
};

class BatchNorm : public Module {
  public:
    BatchNorm(int64_t num_features, int spatial_rank, BatchNormOptions options = {});
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;
    // The statistics of the last training batch (mean and biased variance per channel: what it
    // normalised with), for anyone inspecting the layer.
    const BatchStats& last_batch_stats() const { return last_stats_; }
    int64_t num_features;
    BatchNormOptions options;
    Tensor gamma, beta;                                     // "weight", "bias" (if affine)
    Tensor running_mean, running_var, num_batches_tracked;  // buffers (if tracked)
    // SyncBatchNorm: when set, training normalises with the statistics of the global batch, the
    // union of every rank's input (ops/batch_norm.hpp); null (the default): this input's. Not
    // owned: the communicator must outlive the forwards and backwards that use it.
    const Communicator* sync = nullptr;

  private:
    int expected_rank_;
    BatchStats last_stats_;
};

// Per feature of [N, C] input.
class BatchNorm1d : public BatchNorm {
  public:
    explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {})
        : BatchNorm(num_features, 0, options) {}
    std::string kind() const override { return "BatchNorm1d"; }
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
};

// Per channel of [N, C, H, W] input, over (N, H, W).
class BatchNorm2d : public BatchNorm {
  public:
    explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {})
        : BatchNorm(num_features, 2, options) {}
    std::string kind() const override { return "BatchNorm2d"; }
    static LayerExample example();
};

}  // namespace normgrad
