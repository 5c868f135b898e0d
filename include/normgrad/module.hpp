// Module: the unit a model is built from (a layer or a container of layers).
//
// A module owns named parameters (trained by the optimizer), named buffers (state that is saved
// with the model but not trained, such as BatchNorm's running statistics), and child modules.
// Names compose with dots, as in PyTorch: "fc1.weight", "bn1.running_mean".
// forward() is written with tape operations only, so every module gets its backward for free.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad {

struct NamedTensor {
    std::string name;
    Tensor tensor;
};

struct Parameter {
    std::string name;
    Tensor tensor;
    // Biases and normalisation gains/shifts: what "exclude from weight decay" leaves out.
    bool is_bias_or_norm = false;
};

class Module;

// Called after every module's forward with the module and its output (instrumentation hooks in
// here to find the gradient arriving at each layer's output). Null by default: costs nothing.
using ForwardObserver = std::function<void(const Module&, const Tensor&)>;
void set_forward_observer(ForwardObserver observer);

class Module {
  public:
    virtual ~Module() = default;

    // Runs forward() with this module's name as the tape scope (see autograd::ScopeGuard).
    Tensor operator()(const Tensor& x);
    virtual Tensor forward(const Tensor& x) = 0;
    virtual std::string kind() const = 0;                    // "Dense", "BatchNorm2d", ...
    virtual std::string describe() const { return kind(); }  // with its sizes, for printing

    // All parameters / buffers of this module and its children, with dotted names.
    std::vector<Parameter> parameters() const;
    std::vector<NamedTensor> buffers() const;
    // Parameters and buffers together, as saved in a checkpoint.
    std::vector<NamedTensor> state() const;

    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    const std::string& name() const { return name_; }
    void set_name(std::string name) { name_ = std::move(name); }

    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
        return children_;
    }
    void zero_grad() const;

  protected:
    // Register a trainable tensor under `name`; marks it requires_grad.
    Tensor& register_parameter(const std::string& name, Tensor t, bool is_bias_or_norm = false);
    Tensor& register_buffer(const std::string& name, Tensor t);
    void register_module(const std::string& name, std::shared_ptr<Module> m);
    // Replace a registered parameter or buffer's tensor (e.g. re-initialisation).
    Tensor& parameter(const std::string& name);
    Tensor& buffer(const std::string& name);

  private:
    void collect(const std::string& prefix, std::vector<Parameter>* params,
                 std::vector<NamedTensor>* buffers) const;

    std::string name_;
    bool training_ = true;
    std::vector<Parameter> params_;
    std::vector<NamedTensor> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace normgrad
