#include "normgrad/train/anomaly.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "normgrad/autograd.hpp"

namespace normgrad::train {

namespace {

// Index of the first non-finite value, or -1.
int64_t first_non_finite(const float* v, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(v[i])) return i;
    return -1;
}

std::string where(const autograd::TapeRecord& r) {
    return r.scope.empty() ? "outside any layer" : fmt::format("layer '{}'", r.scope);
}

}  // namespace

AnomalyDetector::AnomalyDetector(const Module& model) {
    for (Parameter& p : model.parameters()) p.tensor.set_name(p.name);
    forward_hook_ = autograd::add_forward_hook([this](const autograd::TapeRecord& r) {
        const int64_t i = first_non_finite(r.output.data(), r.output.numel());
        if (i >= 0)
            throw AnomalyError(fmt::format(
                "anomaly at step {}: forward pass, {}, operation '{}': its output {} holds {} at "
                "element {}",
                step_, where(r), r.op, r.output.shape().str(), r.output.data()[i], i));
    });
    backward_hook_ = autograd::add_backward_hook([this](const autograd::TapeRecord& r) {
        for (size_t k = 0; k < r.inputs.size(); ++k) {
            const Tensor& t = r.inputs[k];
            if (!t.defined() || !t.has_grad()) continue;
            const int64_t i = first_non_finite(t.grad(), t.numel());
            if (i < 0) continue;
            const std::string tensor =
                t.name().empty() ? fmt::format("input {}", k) : fmt::format("'{}'", t.name());
            throw AnomalyError(fmt::format(
                "anomaly at step {}: backward pass, {}, operation '{}': the gradient of {} {} "
                "holds {} at element {}",
                step_, where(r), r.op, tensor, t.shape().str(), t.grad()[i], i));
        }
    });
}

void AnomalyDetector::explain_norm(const std::vector<Parameter>& params, double norm) const {
    // The parameter with the largest gradient element: its square is what overflowed first.
    const Parameter* worst = nullptr;
    double worst_abs = 0.0;
    for (const Parameter& p : params) {
        const float* g = p.tensor.grad();
        if (!g) continue;
        for (int64_t i = 0; i < p.tensor.numel(); ++i) {
            if (!std::isfinite(g[i]))
                throw AnomalyError(fmt::format(
                    "anomaly at step {}: the gradient of '{}' {} holds {} at element {}", step_,
                    p.name, p.tensor.shape().str(), g[i], i));
            if (std::fabs(double(g[i])) > worst_abs)
                worst_abs = std::fabs(double(g[i])), worst = &p;
        }
    }
    const std::string name = worst ? worst->name : "?";
    const size_t dot = name.rfind('.');
    throw AnomalyError(fmt::format(
        "anomaly at step {}: every gradient is finite, but the global gradient norm is {}: the "
        "squares of layer '{}''s {} gradient overflow float (its largest element is {:.3g}; "
        "float squares overflow above {:.3g}), so the gradients have exploded; try a smaller "
        "--lr, --clip, or BatchNorm",
        step_, norm, dot == std::string::npos ? name : name.substr(0, dot),
        dot == std::string::npos ? "parameter" : name.substr(dot + 1), worst_abs,
        std::sqrt(double(std::numeric_limits<float>::max()))));
}


}  // namespace normgrad::train
