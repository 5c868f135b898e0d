// Per-layer gradient statistics for any training loop.
//
// Per step and per layer: the L2 norm of each parameter's gradient, of the gradient arriving at
// the layer's output, of the weights, the update-to-weight ratio ||w_after - w_before|| / ||w||,
// and for BatchNorm layers summaries of the batch mean and variance; plus the global gradient
// norm. Use it around the usual step:
//
//   GradStats stats(model, opt);   // asks opt to measure its updates (Optimizer::UpdateNorms)
//   stats.begin_step();            // before the forward pass
//   loss = ...; backward(loss);
//   stats.after_backward();        // gradient norms
//   opt.step();
//   stats.after_update();          // weight norms, update ratios
//   use(stats.current());
//
// What it costs: one pass over every gradient (the global norm comes out of it, so a training
// loop need not compute global_grad_norm again) and one over every layer's output gradient,
// taken by a backward hook right after that gradient was used, before it is freed; the
// weights' norms and updates are measured by the optimizer inside its own pass. It installs a
// forward observer and a backward hook (chaining to the hook already installed, and putting it
// back when destroyed), so construct it after, and destroy it before, hooks installed earlier.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/module.hpp"
#include "normgrad/optim.hpp"

namespace normgrad::train {

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct ParamStats {
    std::string name;  // "weight", "bias"
    double grad_norm = kNoValue;
    double weight_norm = kNoValue;
    double update_ratio = kNoValue;  // ||update|| / ||weight before the update||
};

struct LayerStats {
    std::string layer;  // "fc1"
    std::string kind;   // "Dense"
    double output_grad_norm = kNoValue;
    std::vector<ParamStats> params;
    bool is_batchnorm = false;
    double batch_mean_abs = kNoValue;  // mean over channels of |batch mean|
    double batch_var_mean = kNoValue;  // mean over channels of the batch variance
    double batch_var_min = kNoValue, batch_var_max = kNoValue;

    const ParamStats* param(const std::string& name) const;
};

struct StepStats {
    double global_grad_norm = kNoValue;
    std::vector<LayerStats> layers;  // every leaf module, in forward order
    std::string json() const;        // {"fc1":{"weight_grad_norm":...},...}
};

class GradStats {
  public:
    // Watches every leaf module of `model`; `optimizer` (which must outlive this object) is
    // switched to recording its update norms, and back off by the destructor.
    GradStats(const Module& model, Optimizer& optimizer);
    ~GradStats();
    GradStats(const GradStats&) = delete;
    GradStats& operator=(const GradStats&) = delete;

    void begin_step();      // watch the layers' outputs during the coming forward pass
    void after_backward();  // gradient norms; frees the outputs' gradients
    void after_update();    // weight norms and update ratios (from the optimizer)
    const StepStats& current() const { return stats_; }

  private:
    struct Watched {
        const Module* module;
        std::string name;
        std::vector<Parameter> params;  // the module's own parameters
        std::vector<int64_t> slot;      // each one's index in optimizer.params(), or -1
    };
    struct Output {
        Tensor tensor;  // a layer's output in this step's forward pass
        size_t layer;   // index into layers_
    };
    void on_backward(const autograd::TapeRecord& r);
    Optimizer& optimizer_;
    // All of the model's parameters when some are not in a leaf module (else empty).
    std::vector<Parameter> unwatched_;
    std::vector<Watched> layers_;
    std::unordered_map<const Module*, size_t> index_;
    std::vector<Output> outputs_;
    autograd::BackwardHook previous_backward_;  // called first, restored by the destructor
    StepStats stats_;
};

}  // namespace normgrad::train
