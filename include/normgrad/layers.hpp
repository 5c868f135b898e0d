// The built-in layers. Each is implemented in its own file under layers/, with forward() written
// in tape operations only; the generic gradient test (tests/test_layers_gradcheck.cpp) checks
// every layer registered in the layer registry (layer_registry.hpp).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "normgrad/module.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/random.hpp"

namespace normgrad {

// How weights are initialised. PyTorchDefault is what torch.nn does (Kaiming-uniform with
// a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias).
// Normal draws weights from N(0, std^2) and sets biases to 0: the deliberately poor
// initialisations of the BatchNorm study.
struct Init {
    enum class Kind { PyTorchDefault, Normal } kind = Kind::PyTorchDefault;
    float std = 0.f;
    static Init pytorch() { return {}; }
    static Init normal(float std) { return {Kind::Normal, std}; }
};

class Dense : public Module {
  public:
    Dense(int64_t in, int64_t out, Rng& rng, Init init = {}, bool bias = true);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "Dense"; }
    std::string describe() const override;
    int64_t in_features, out_features;
    Tensor weight, bias;  // [out, in], [out] (bias undefined when disabled)
};

class Conv2d : public Module {
  public:
    Conv2d(int64_t in_channels, int64_t out_channels, int kernel, Rng& rng, int stride = 1,
           int padding = 0, Init init = {}, bool bias = true);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "Conv2d"; }
    std::string describe() const override;
    int64_t in_channels, out_channels;
    int kernel;
    Conv2dParams params;
    Tensor weight, bias;  // [out, in, k, k], [out]
};

class ReLU : public Module {
  public:
    Tensor forward(const Tensor& x) override { return relu(x); }
    std::string kind() const override { return "ReLU"; }
};

class Sigmoid : public Module {
  public:
    Tensor forward(const Tensor& x) override { return sigmoid(x); }
    std::string kind() const override { return "Sigmoid"; }
};

class Tanh : public Module {
  public:
    Tensor forward(const Tensor& x) override { return normgrad::tanh(x); }
    std::string kind() const override { return "Tanh"; }
};

class Flatten : public Module {
  public:
    Tensor forward(const Tensor& x) override { return flatten(x); }
    std::string kind() const override { return "Flatten"; }
};

class MaxPool2d : public Module {
  public:
    explicit MaxPool2d(int kernel, int stride = 0, int padding = 0)
        : params{kernel, stride, padding} {}
    Tensor forward(const Tensor& x) override { return max_pool2d(x, params); }
    std::string kind() const override { return "MaxPool2d"; }
    std::string describe() const override;
    Pool2dParams params;
};

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
};

// Per channel of [N, C, H, W] input, over (N, H, W).
class BatchNorm2d : public BatchNorm {
  public:
    explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {})
        : BatchNorm(num_features, 2, options) {}
    std::string kind() const override { return "BatchNorm2d"; }
};

// Runs its children in order.
class Sequential : public Module {
  public:
    Sequential& add(const std::string& name, std::shared_ptr<Module> m);
    template <class M, class... Args>
    Sequential& emplace(const std::string& name, Args&&... args) {
        return add(name, std::make_shared<M>(std::forward<Args>(args)...));
    }
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "Sequential"; }
    std::string describe() const override;
};

}  // namespace normgrad
