// Anomaly detection: stop at the first non-finite value in the forward or backward pass and say
// exactly where it appeared: the layer, the operation, the tensor, its shape and the step.
// It checks every operation's output and every gradient an operation produces, so it costs a
// pass over all activations and gradients: meant for debugging (`--detect-anomaly`).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/module.hpp"

namespace normgrad::train {

class AnomalyError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class AnomalyDetector {
  public:
    // Names the model's parameters (for the messages) and installs the tape hooks.
    explicit AnomalyDetector(const Module& model);  // the hooks live as long as the detector
    AnomalyDetector(const AnomalyDetector&) = delete;
    AnomalyDetector& operator=(const AnomalyDetector&) = delete;
    void set_step(int64_t step) { step_ = step; }
    // Called when the global gradient norm is not finite although the hooks found every value
    // finite: the sum of squares overflowed float. Throws AnomalyError naming the parameter (and
    // so the layer) whose gradient is too large to square.
    [[noreturn]] void explain_norm(const std::vector<Parameter>& params, double norm) const;

  private:
    int64_t step_ = 0;
    HookHandle forward_hook_, backward_hook_;
};

}  // namespace normgrad::train
