// Optimizer base: the parameter list, the learning rate, zero_grad, and helpers that load_state
// implementations share to check a saved state before using it.
#include <fmt/format.h>

#include <cmath>
#include <set>
#include <stdexcept>

#include "normgrad/optim.hpp"

namespace normgrad {

Optimizer::Optimizer(std::vector<Parameter> params) : params_(std::move(params)) {
    if (params_.empty()) throw std::invalid_argument("Optimizer: empty parameter list");
    std::set<std::string> seen;
    for (const Parameter& p : params_) {
        if (!p.tensor.defined())
            throw std::invalid_argument(
                fmt::format("Optimizer: parameter '{}' is an undefined tensor", p.name));
        if (!seen.insert(p.name).second)
            throw std::invalid_argument(fmt::format(
                "Optimizer: parameter name '{}' appears twice (state is saved by name)", p.name));
    }
}

Optimizer::~Optimizer() = default;

void Optimizer::zero_grad() {
    for (const Parameter& p : params_) p.tensor.zero_grad();
}

void Optimizer::set_lr(float lr) {
    if (!(lr >= 0.f))
        throw std::invalid_argument(fmt::format("Optimizer: lr must be >= 0 (got {})", lr));
    lr_ = lr;
}

int64_t Optimizer::param_index(const std::string& name) const {
    for (size_t i = 0; i < params_.size(); ++i)
        if (params_[i].name == name) return static_cast<int64_t>(i);
    return -1;
}

int64_t Optimizer::parse_state_name(const std::string& name,
                                    const std::vector<std::string>& buffers,
                                    std::string* buffer) const {
    // The buffer name is the part after the last dot ("fc1.weight" + "." + "exp_avg").
    const size_t dot = name.rfind('.');
    const int64_t index = dot == std::string::npos ? -1 : param_index(name.substr(0, dot));
    if (index < 0)
        throw std::runtime_error(fmt::format(
            "{}::load_state: state tensor '{}' does not belong to any parameter", kind(), name));
    *buffer = name.substr(dot + 1);
    for (const std::string& b : buffers)
        if (b == *buffer) return index;
    std::string expected;
    for (const std::string& b : buffers) expected += (expected.empty() ? "" : ", ") + b;
    throw std::runtime_error(
        fmt::format("{}::load_state: unexpected state tensor '{}' ({} keeps: {})", kind(), name,
                    kind(), expected.empty() ? "no per-parameter buffers" : expected));
}

Tensor Optimizer::checked_copy(const std::string& name, const Tensor& t,
                               const Shape& expected) const {
    if (!t.defined())
        throw std::runtime_error(
            fmt::format("{}::load_state: state tensor '{}' is undefined", kind(), name));
    if (t.shape() != expected)
        throw std::runtime_error(
            fmt::format("{}::load_state: state tensor '{}' has shape {}, expected {}", kind(), name,
                        t.shape().str(), expected.str()));
    return t.clone();
}

int64_t Optimizer::read_counter(const std::string& name, const Tensor& t) const {
    if (!t.defined() || t.numel() != 1)
        throw std::runtime_error(
            fmt::format("{}::load_state: counter '{}' must hold one value (found shape {})", kind(),
                        name, t.defined() ? t.shape().str() : std::string("undefined")));
    const float v = t.item();
    constexpr float kExactLimit = 16777216.f;  // 2^24: larger float32 counts are not exact
    if (!(v >= 0.f && v <= kExactLimit) || std::floor(v) != v)
        throw std::runtime_error(fmt::format(
            "{}::load_state: counter '{}' must be a whole number in [0, 2^24] (found {})", kind(),
            name, v));
    return static_cast<int64_t>(v);
}

int64_t Optimizer::read_step_count(const std::vector<NamedTensor>& state) const {
    std::set<std::string> seen;
    for (const NamedTensor& e : state)
        if (!seen.insert(e.name).second)
            throw std::runtime_error(
                fmt::format("{}::load_state: state tensor '{}' appears twice", kind(), e.name));
    for (const NamedTensor& e : state)
        if (e.name == "step") return read_counter("step", e.tensor);
    throw std::runtime_error(
        fmt::format("{}::load_state: the state has no 'step' counter", kind()));
}

}  // namespace normgrad
