#include "normgrad/train/grad_stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>
#include <utility>

#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/norms.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/train/json_text.hpp"

namespace normgrad::train {

const ParamStats* LayerStats::param(const std::string& n) const {
    for (const auto& p : params)
        if (p.name == n) return &p;
    return nullptr;
}

GradStats::GradStats(const Module& model, Optimizer* optimizer) {
    // Watch every leaf module (a layer without children), named by its path in the model.
    model.visit([&](const std::string& path, const Module& m) {
        if (!m.children().empty()) return;
        Watched w{&m, path.empty() ? m.kind() : path, m.parameters(), {}, {}, {}, {}};
        w.before.resize(w.params.size());
        w.before_squares.resize(w.params.size());
        w.after_squares.resize(w.params.size());
        w.change_squares.resize(w.params.size());
        index_[&m] = layers_.size();
        layers_.push_back(std::move(w));
    });
    size_t watched = 0;
    for (const auto& w : layers_) watched += w.params.size();
    if (watched != model.parameters().size()) unwatched_ = model.parameters();
    for (const auto& w : layers_) {
        LayerStats l;
        l.layer = w.name;
        l.kind = w.module->kind();
        l.is_batchnorm = dynamic_cast<const BatchNorm*>(w.module) != nullptr;
        for (const auto& p : w.params) l.params.push_back({p.name, kNoValue, kNoValue, kNoValue});
        stats_.layers.push_back(std::move(l));
    }
    // Which tensor each layer outputs in this step's forward pass.
    module_hook_ = add_module_hook([this](const Module& m, const Tensor&, const Tensor& y) {
        if (!watching_) return;
        const auto it = index_.find(&m);
        if (it != index_.end() && y.requires_grad()) outputs_.push_back({y, it->second});
    });
    output_grad_hook_ = autograd::add_output_grad_hook(
        [this](const autograd::TapeRecord& r) { on_output_grad(r); });
    if (!optimizer) return;
    // The optimizer's parameter k is the watched one holding the same values.
    static_assert(Optimizer::kUpdateBlock == kSumOfSquaresBlock,
                  "block sums added in double give sum_of_squares' value");
    for (const Parameter& p : optimizer->params()) {
        std::pair<int64_t, int64_t> where{-1, -1};
        for (size_t i = 0; i < layers_.size(); ++i)
            for (size_t j = 0; j < layers_[i].params.size(); ++j)
                if (layers_[i].params[j].tensor.data() == p.tensor.data())
                    where = {int64_t(i), int64_t(j)};
        slot_.push_back(where);
    }
    from_hook_ = true;
    update_hook_ = optimizer->add_update_hook(
        [this](size_t k, int64_t, const float* before, const float* after, int64_t n) {
            const auto [i, j] = slot_[k];
            if (i < 0) return;
            Watched& w = layers_[size_t(i)];
            double was = 0.0, now = 0.0, change = 0.0;  // one pass over the block
            update_sums_of_squares(before, after, n, &was, &now, &change);
            double& b = w.before_squares[size_t(j)];
            b = std::max(b, 0.0) + was;
            w.after_squares[size_t(j)] += now;
            w.change_squares[size_t(j)] += change;
        });
}

void GradStats::begin_step() {
    for (auto& l : stats_.layers) l.output_grad_norm = kNoValue;
    outputs_.clear();
    watching_ = true;
}

void GradStats::on_output_grad(const autograd::TapeRecord& r) {
    // The gradient of a layer's output is complete, and the operation that produced the output
    // is about to run its backward, which may write its input's gradient over it
    // (autograd::output_grad_reusable). Measure it now rather than keeping every output's
    // gradient until the end.
    if (!watching_) return;
    for (const Output& o : outputs_)
        if (o.tensor.same_as(r.output) && r.output.has_grad()) {
            stats_.layers[o.layer].output_grad_norm = l2_norm(r.output.grad(), r.output.numel());
            return;
        }
}

void GradStats::after_backward() {
    watching_ = false;
    outputs_.clear();
    double global = 0.0;
    for (size_t i = 0; i < layers_.size(); ++i) {
        Watched& w = layers_[i];
        LayerStats& l = stats_.layers[i];
        for (size_t j = 0; j < w.params.size(); ++j) {
            const Tensor& t = w.params[j].tensor;
            const double squares = t.has_grad() ? sum_of_squares(t.grad(), t.numel()) : 0.0;
            l.params[j].grad_norm = std::sqrt(squares);
            global += squares;  // in the order of model.parameters(), as global_grad_norm adds
        }
        if (l.is_batchnorm) {
            const BatchStats& s = static_cast<const BatchNorm*>(w.module)->last_batch_stats();
            if (!s.mean.empty()) {
                double abs_mean = 0, var_mean = 0;
                for (float v : s.mean) abs_mean += std::abs(v);
                for (float v : s.var) var_mean += v;
                l.batch_mean_abs = abs_mean / double(s.mean.size());
                l.batch_var_mean = var_mean / double(s.var.size());
                l.batch_var_min = *std::min_element(s.var.begin(), s.var.end());
                l.batch_var_max = *std::max_element(s.var.begin(), s.var.end());
            }
        }
    }
    // (A model with parameters outside its leaf modules: the global norm covers them too.)
    stats_.global_grad_norm = unwatched_.empty() ? std::sqrt(global) : global_grad_norm(unwatched_);
}

void GradStats::before_update() {
    for (Watched& w : layers_)
        for (size_t j = 0; j < w.params.size(); ++j) {
            w.after_squares[j] = w.change_squares[j] = 0.0;
            // -1 until the optimizer reports a block of it (the hook adds into it from 0).
            w.before_squares[j] = from_hook_ ? -1.0 : 0.0;
            if (from_hook_) continue;
            const Tensor& t = w.params[j].tensor;
            w.before[j].resize(size_t(t.numel()));
            w.before_squares[j] = copy_and_sum_of_squares(t.data(), w.before[j].data(), t.numel());
        }
}

void GradStats::after_update() {
    for (size_t i = 0; i < layers_.size(); ++i) {
        Watched& w = layers_[i];
        for (size_t j = 0; j < w.params.size(); ++j) {
            const Tensor& t = w.params[j].tensor;
            ParamStats& ps = stats_.layers[i].params[j];
            if (!from_hook_) {
                update_sums_of_squares(w.before[j].data(), t.data(), t.numel(), &w.after_squares[j],
                                       &w.change_squares[j]);
            } else if (w.before_squares[j] < 0.0) {
                // Not updated this step (not optimized, or no gradient): the weights as they are.
                w.after_squares[j] = sum_of_squares(t.data(), t.numel());
                w.before_squares[j] = w.after_squares[j];
            }
            ps.weight_norm = std::sqrt(w.after_squares[j]);
            ps.update_ratio = w.before_squares[j] > 0
                                  ? std::sqrt(w.change_squares[j] / w.before_squares[j])
                                  : kNoValue;
        }
    }
}

std::string StepStats::json() const {
    fmt::memory_buffer out;
    auto put = [&out](std::string_view text) { out.append(text); };
    put("{");
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerStats& l = layers[i];
        if (i) put(",");
        put(json_string(l.layer));
        put(":{\"kind\":");
        put(json_string(l.kind));
        put(",\"output_grad_norm\":");
        append_json_number(out, l.output_grad_norm);
        for (const auto& p : l.params) {
            for (auto [suffix, value] :
                 {std::pair{"_grad_norm", p.grad_norm}, std::pair{"_norm", p.weight_norm},
                  std::pair{"_update_ratio", p.update_ratio}}) {
                put(",\"");
                put(p.name);
                put(suffix);
                put("\":");
                append_json_number(out, value);
            }
        }
        if (l.is_batchnorm)
            for (auto [key, value] : {std::pair{"batch_mean_abs", l.batch_mean_abs},
                                      std::pair{"batch_var_mean", l.batch_var_mean},
                                      std::pair{"batch_var_min", l.batch_var_min},
                                      std::pair{"batch_var_max", l.batch_var_max}}) {
                put(",\"");
                put(key);
                put("\":");
                append_json_number(out, value);
            }
        put("}");
    }
    put("}");
    return fmt::to_string(out);
}

}  // namespace normgrad::train
