// Stochastic gradient descent with momentum, exactly as torch.optim.SGD.
#include <fmt/format.h>

#include <stdexcept>

#include "normgrad/autograd.hpp"
#include "normgrad/optim.hpp"

namespace normgrad {

namespace {

void validate(const SgdOptions& o) {
    auto fail = [](const char* what, float value) {
        throw std::invalid_argument(fmt::format("SGD: {} (got {})", what, value));
    };
    // Written as !(ok) so that NaN fails too.
    if (!(o.lr >= 0.f)) fail("lr must be >= 0", o.lr);
    if (!(o.momentum >= 0.f && o.momentum < 1.f)) fail("momentum must be in [0, 1)", o.momentum);
    if (!(o.dampening >= 0.f && o.dampening <= 1.f))
        fail("dampening must be in [0, 1]", o.dampening);
    if (!(o.weight_decay >= 0.f)) fail("weight_decay must be >= 0", o.weight_decay);
    if (o.nesterov && !(o.momentum > 0.f && o.dampening == 0.f))
        throw std::invalid_argument(
            fmt::format("SGD: nesterov requires momentum > 0 and dampening == 0 (got momentum {}, "
                        "dampening {})",
                        o.momentum, o.dampening));
}

}  // namespace

Sgd::Sgd(std::vector<Parameter> params, const SgdOptions& options)
    : Optimizer(std::move(params)), options_(options) {
    validate(options_);
    set_lr(options_.lr);
    momentum_buffer_.resize(params_.size());
}

void Sgd::step() {
    autograd::NoGradGuard no_grad;
    const float lr = lr_;
    const float mu = options_.momentum;
    const float dampening = options_.dampening;
    const bool nesterov = options_.nesterov;

    for (size_t k = 0; k < params_.size(); ++k) {
        const Parameter& param = params_[k];
        const float* g = param.tensor.grad();
        if (g == nullptr) continue;  // did not take part in this step
        float* p = param.tensor.data();
        const int64_t n = param.tensor.numel();
        const float wd =
            decay_for(param, options_.weight_decay, options_.exclude_bias_and_norm_from_decay);

        if (mu == 0.f) {
            // Plain SGD:  p <- p - lr * (g + wd * p)
            update(k, p, n, [=](int64_t first, int64_t last) {
                for (int64_t i = first; i < last; ++i) p[i] -= lr * (g[i] + wd * p[i]);
            });
            continue;
        }

        Tensor& buffer = momentum_buffer_[k];
        const bool first = !buffer.defined();
        if (first) buffer = Tensor::empty(param.tensor.shape());
        float* b = buffer.data();
        // Momentum:  d = g + wd * p
        //            b <- d                              on this parameter's first update,
        //            b <- mu * b + (1 - dampening) * d   afterwards
        //            p <- p - lr * b                     (nesterov: p <- p - lr * (d + mu * b))
        update(k, p, n, [=](int64_t from, int64_t to) {
            for (int64_t i = from; i < to; ++i) {
                const float d = g[i] + wd * p[i];
                b[i] = first ? d : mu * b[i] + (1.f - dampening) * d;
                p[i] -= lr * (nesterov ? d + mu * b[i] : b[i]);
            }
        });
    }
    ++step_count_;
}

std::vector<NamedTensor> Sgd::state() const {
    std::vector<NamedTensor> out;
    for (size_t k = 0; k < params_.size(); ++k)
        if (momentum_buffer_[k].defined())
            out.push_back({params_[k].name + ".momentum_buffer", momentum_buffer_[k].clone()});
    out.push_back({"step", Tensor::scalar(static_cast<float>(step_count_))});
    return out;
}

void Sgd::load_state(const std::vector<NamedTensor>& state) {
    const int64_t steps = read_step_count(state);
    // Plain SGD keeps no buffer, so it accepts none.
    const std::vector<std::string> buffers = options_.momentum > 0.f
                                                 ? std::vector<std::string>{"momentum_buffer"}
                                                 : std::vector<std::string>{};
    std::vector<Tensor> loaded(params_.size());
    for (const NamedTensor& entry : state) {
        if (entry.name == "step") continue;
        std::string buffer;
        const int64_t k = parse_state_name(entry.name, buffers, &buffer);
        loaded[k] = checked_copy(entry.name, entry.tensor, params_[k].tensor.shape());
    }
    // Everything checked: commit.
    momentum_buffer_ = std::move(loaded);
    step_count_ = steps;
}

}  // namespace normgrad
