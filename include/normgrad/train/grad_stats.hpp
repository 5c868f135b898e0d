// Per-layer gradient statistics for any training loop.
//
// Per step and per layer: the L2 norm of each parameter's gradient, of the gradient arriving at
// the layer's output, of the weights, the update-to-weight ratio ||w_after - w_before|| / ||w||,
// and for BatchNorm layers summaries of the batch mean and variance; plus the global gradient
// norm. Use it around the usual step:
//
//   GradStats stats(model, &opt);  // or without the optimizer (below)
//   stats.begin_step();            // before the forward pass
//   loss = ...; backward(loss);
//   stats.after_backward();        // gradient norms
//   stats.before_update();
//   opt.step();
//   stats.after_update();          // weight norms, update ratios
//   use(stats.current());
//
// It watches from outside, through the engine's hooks (hooks.hpp): a module hook notes which
// tensor each layer outputs, and an output gradient hook measures that tensor's gradient once it
// is complete, right before the operation that made it runs its backward (which may overwrite it,
// and after which it is freed). No operation or optimizer knows of it.
// What it costs: one pass over every layer's output gradient and one over every parameter
// gradient (the global norm comes out of it, so a training loop need not compute
// global_grad_norm again). The update is measured by the optimizer's update hook
// (Optimizer::add_update_hook: each block of values before and after, while in cache), or,
// without an optimizer, from a copy of the weights taken by before_update().
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
    // Watches every leaf module of `model`, and the updates of `optimizer` when given (which
    // must outlive this object), while this object lives.
    explicit GradStats(const Module& model, Optimizer* optimizer = nullptr);
    GradStats(const GradStats&) = delete;
    GradStats& operator=(const GradStats&) = delete;

    void begin_step();      // watch the layers' outputs during the coming forward pass
    void after_backward();  // gradient norms
    void before_update();   // a copy of the weights, to measure what the update does
    void after_update();    // weight norms and update ratios
    const StepStats& current() const { return stats_; }

  private:
    struct Watched {
        const Module* module;
        std::string name;
        std::vector<Parameter> params;           // the module's own parameters
        std::vector<std::vector<float>> before;  // their values before the update (no hook)
        std::vector<double> before_squares;      // sums of squares before the update,
        std::vector<double> after_squares;       // after it,
        std::vector<double> change_squares;      // and of the change
    };
    struct Output {
        Tensor tensor;  // a layer's output in this step's forward pass
        size_t layer;   // index into layers_
    };
    void on_output_grad(const autograd::TapeRecord& r);
    // All of the model's parameters when some are not in a leaf module (else empty).
    std::vector<Parameter> unwatched_;
    std::vector<Watched> layers_;
    std::unordered_map<const Module*, size_t> index_;
    std::vector<Output> outputs_;
    bool watching_ = false;  // between begin_step() and after_backward()
    // Optimizer parameter k -> (layer, parameter) watched, or (-1, -1).
    std::vector<std::pair<int64_t, int64_t>> slot_;
    bool from_hook_ = false;  // the optimizer reports the updates
    HookHandle update_hook_;
    StepStats stats_;
    HookHandle module_hook_, output_grad_hook_;  // last: removed first
};

}  // namespace normgrad::train
