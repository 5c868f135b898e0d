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

#include "normgrad/hooks.hpp"
#include "normgrad/named_tensor.hpp"
#include "normgrad/tensor.hpp"

namespace normgrad {

class Module;

// Module hooks (hooks.hpp): called after every module's forward with the module, its input and
// its output (how an observer finds each layer's output). Chained, removed when the handle goes;
// none by default, which costs nothing.
using ModuleHook = std::function<void(const Module&, const Tensor& input, const Tensor& output)>;
[[nodiscard]] HookHandle add_module_hook(ModuleHook hook);

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

    // Calls f(path, module) for this module (path "") and every module below it, each parent
    // before its children, in the order they were added; paths are dotted as parameter names
    // are ("res1.bn1").
    void visit(const std::function<void(const std::string&, const Module&)>& f) const;
    void visit(const std::function<void(const std::string&, Module&)>& f);

  protected:
    // Register a trainable tensor under `name`; marks it requires_grad. Returns the tensor (a
    // handle sharing its values, so keeping it in a member is safe across later registrations).
    Tensor register_parameter(const std::string& name, Tensor t, bool is_bias_or_norm = false);
    Tensor register_buffer(const std::string& name, Tensor t);
    void register_module(const std::string& name, std::shared_ptr<Module> m);

  private:
    void collect(const std::string& prefix, std::vector<Parameter>* params,
                 std::vector<NamedTensor>* buffers) const;

    std::string name_;
    bool training_ = true;
    std::vector<Parameter> params_;
    std::vector<NamedTensor> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Every buffer of a module (running statistics, num_batches_tracked) and its training mode as
// they are when the snapshot is taken; restore() puts them back bit for bit, as many times as
// needed. For measurements that run training-mode forwards, which move the buffers, on a model
// they must leave as they found it (inspect, the running statistics' lag).
class BufferSnapshot {
  public:
    explicit BufferSnapshot(Module& model);
    void restore();

  private:
    Module& model_;
    bool was_training_;
    std::vector<NamedTensor> buffers_;
    std::vector<std::vector<float>> saved_;
};

}  // namespace normgrad
