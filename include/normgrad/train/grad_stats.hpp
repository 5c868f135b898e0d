// Per-layer gradient statistics for any training loop.
//
// Per step and per layer: the L2 norm of each parameter's gradient, of the gradient arriving at
// the layer's output, of the weights, the update-to-weight ratio ||w_after - w_before|| / ||w||,
// and for BatchNorm layers summaries of the batch mean and variance; plus the global gradient
// norm. Use it around the usual step:
//
//   GradStats stats(model);
//   stats.begin_step();            // before the forward pass
//   loss = ...; backward(loss);
//   stats.after_backward();        // gradient norms
//   stats.before_update(); opt.step(); stats.after_update();   // weight norms, update ratios
//   use(stats.current());
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "normgrad/module.hpp"

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
    explicit GradStats(const Module& model);
    ~GradStats();
    GradStats(const GradStats&) = delete;
    GradStats& operator=(const GradStats&) = delete;

    void begin_step();      // watch the layers' outputs during the coming forward pass
    void after_backward();  // gradient norms; frees the outputs' gradients
    void before_update();   // remember the weights
    void after_update();    // weight norms and update ratios
    const StepStats& current() const { return stats_; }

  private:
    struct Watched {
        const Module* module;
        std::string name;
        std::vector<Parameter> params;  // the module's own parameters
        Tensor output;                  // this step's output, its gradient retained
    };
    std::vector<Watched> layers_;
    std::unordered_map<const Module*, size_t> index_;
    std::vector<std::vector<float>> before_;  // weights before the update, per parameter
    StepStats stats_;
};

// L2 norm of n floats, accumulated in double.
double l2_norm(const float* v, int64_t n);

}  // namespace normgrad::train
