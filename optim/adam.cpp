// Adam and AdamW, exactly as torch.optim.Adam / torch.optim.AdamW (amsgrad off).
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "normgrad/autograd.hpp"
#include "normgrad/optim.hpp"

namespace normgrad {

namespace {

void validate(const AdamOptions& o) {
    const char* name = o.decoupled_weight_decay ? "AdamW" : "Adam";
    auto fail = [name](const char* what, float value) {
        throw std::invalid_argument(fmt::format("{}: {} (got {})", name, what, value));
    };
    // Written as !(ok) so that NaN fails too.
    if (!(o.lr >= 0.f)) fail("lr must be >= 0", o.lr);
    if (!(o.beta1 >= 0.f && o.beta1 < 1.f)) fail("beta1 must be in [0, 1)", o.beta1);
    if (!(o.beta2 >= 0.f && o.beta2 < 1.f)) fail("beta2 must be in [0, 1)", o.beta2);
    if (!(o.eps >= 0.f)) fail("eps must be >= 0", o.eps);
    if (!(o.weight_decay >= 0.f)) fail("weight_decay must be >= 0", o.weight_decay);
}

}  // namespace

Adam::Adam(std::vector<Parameter> params, const AdamOptions& options)
    : Optimizer(std::move(params)), options_(options) {
    validate(options_);
    set_lr(options_.lr);
    slots_.resize(params_.size());
}

void Adam::step() {
    autograd::NoGradGuard no_grad;
    const float beta1 = options_.beta1;
    const float beta2 = options_.beta2;
    const float eps = options_.eps;
    const bool decoupled = options_.decoupled_weight_decay;

    for (size_t k = 0; k < params_.size(); ++k) {
        const Parameter& param = params_[k];
        const float* g = param.tensor.grad();
        if (g == nullptr) continue;  // did not take part in this step: no update, no count
        float* p = param.tensor.data();
        const int64_t n = param.tensor.numel();
        const float wd =
            decay_for(param, options_.weight_decay, options_.exclude_bias_and_norm_from_decay);

        Slot& slot = slots_[k];
        if (!slot.exp_avg.defined()) {
            slot.exp_avg = Tensor::zeros(param.tensor.shape());
            slot.exp_avg_sq = Tensor::zeros(param.tensor.shape());
        }
        float* m = slot.exp_avg.data();
        float* v = slot.exp_avg_sq.data();
        slot.step += 1;

        // Per-parameter scalars, in double as PyTorch computes them (Python floats):
        //   bias corrections c1 = 1 - beta1^t, c2 = 1 - beta2^t (t = this parameter's step),
        //   step_size = lr / c1.
        const auto t = static_cast<double>(slot.step);
        const double c1 = 1.0 - std::pow(static_cast<double>(beta1), t);
        const double c2 = 1.0 - std::pow(static_cast<double>(beta2), t);
        const auto step_size = static_cast<float>(static_cast<double>(lr_) / c1);
        const auto sqrt_c2 = static_cast<float>(std::sqrt(c2));
        // AdamW shrinks p before the update; Adam adds wd * p to the gradient instead (L2).
        const float shrink =
            decoupled ? static_cast<float>(1.0 - static_cast<double>(lr_) * wd) : 1.f;
        const float l2 = decoupled ? 0.f : wd;

        // Update: p <- p * (1 - lr * wd)                         (AdamW only: shrink = 1 for Adam)
        //         g' = g + wd * p                                (Adam only: l2 = 0 for AdamW)
        //         m <- beta1 * m + (1 - beta1) * g'
        //         v <- beta2 * v + (1 - beta2) * g'^2
        //         p <- p - step_size * m / (sqrt(v) / sqrt(c2) + eps)
        update(k, p, n, [=](int64_t first, int64_t last) {
            for (int64_t i = first; i < last; ++i) {
                p[i] *= shrink;
                const float gi = g[i] + l2 * p[i];
                m[i] = beta1 * m[i] + (1.f - beta1) * gi;
                v[i] = beta2 * v[i] + (1.f - beta2) * gi * gi;
                p[i] -= step_size * (m[i] / (std::sqrt(v[i]) / sqrt_c2 + eps));
            }
        });
    }
    ++step_count_;
}

std::vector<NamedTensor> Adam::state() const {
    std::vector<NamedTensor> out;
    for (size_t k = 0; k < params_.size(); ++k) {
        const Slot& slot = slots_[k];
        if (!slot.exp_avg.defined()) continue;
        const std::string& name = params_[k].name;
        out.push_back({name + ".exp_avg", slot.exp_avg.clone()});
        out.push_back({name + ".exp_avg_sq", slot.exp_avg_sq.clone()});
        out.push_back({name + ".step", Tensor::scalar(static_cast<float>(slot.step))});
    }
    out.push_back({"step", Tensor::scalar(static_cast<float>(step_count_))});
    return out;
}

void Adam::load_state(const std::vector<NamedTensor>& state) {
    const int64_t steps = read_step_count(state);
    const std::vector<std::string> buffers{"exp_avg", "exp_avg_sq", "step"};
    std::vector<Slot> loaded(params_.size());
    std::vector<int> found(params_.size(), 0);  // how many of the three entries each one has
    for (const NamedTensor& entry : state) {
        if (entry.name == "step") continue;
        std::string buffer;
        const int64_t k = parse_state_name(entry.name, buffers, &buffer);
        const Shape& shape = params_[k].tensor.shape();
        if (buffer == "exp_avg") loaded[k].exp_avg = checked_copy(entry.name, entry.tensor, shape);
        if (buffer == "exp_avg_sq")
            loaded[k].exp_avg_sq = checked_copy(entry.name, entry.tensor, shape);
        if (buffer == "step") loaded[k].step = read_counter(entry.name, entry.tensor);
        ++found[k];
    }
    for (size_t k = 0; k < params_.size(); ++k)
        if (found[k] != 0 && found[k] != 3)
            throw std::runtime_error(fmt::format(
                "{}::load_state: incomplete state for parameter '{}' (needs {}.exp_avg, "
                "{}.exp_avg_sq and {}.step)",
                kind(), params_[k].name, params_[k].name, params_[k].name, params_[k].name));
    // Everything checked: commit.
    slots_ = std::move(loaded);
    step_count_ = steps;
}

}  // namespace normgrad
