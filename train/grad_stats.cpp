#include "normgrad/train/grad_stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>
#include <utility>

#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/norms.hpp"
#include "normgrad/train/json_text.hpp"

namespace normgrad::train {

const ParamStats* LayerStats::param(const std::string& n) const {
    for (const auto& p : params)
        if (p.name == n) return &p;
    return nullptr;
}

GradStats::GradStats(const Module& model, Optimizer& optimizer) : optimizer_(optimizer) {
    // Watch every leaf module (a layer without children), named by its path in the model.
    std::function<void(const Module&, const std::string&)> visit = [&](const Module& m,
                                                                       const std::string& path) {
        if (m.children().empty()) {
            Watched w{&m, path.empty() ? m.kind() : path, m.parameters(), {}};
            index_[&m] = layers_.size();
            layers_.push_back(std::move(w));
            return;
        }
        for (const auto& [name, child] : m.children())
            visit(*child, path.empty() ? name : path + "." + name);
    };
    visit(model, "");
    // The optimizer's entry for each watched parameter: the one holding the same values.
    const std::vector<Parameter>& optimized = optimizer_.params();
    for (auto& w : layers_)
        for (const auto& p : w.params) {
            int64_t slot = -1;
            for (size_t k = 0; k < optimized.size(); ++k)
                if (optimized[k].tensor.data() == p.tensor.data()) slot = int64_t(k);
            w.slot.push_back(slot);
        }
    optimizer_.record_update_norms(true);
    previous_backward_ = autograd::set_backward_hook([this](const autograd::TapeRecord& r) {
        if (previous_backward_) previous_backward_(r);
        on_backward(r);
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
}

GradStats::~GradStats() {
    set_forward_observer(nullptr);
    autograd::set_backward_hook(std::move(previous_backward_));
    optimizer_.record_update_norms(false);
}

void GradStats::begin_step() {
    for (auto& l : stats_.layers) l.output_grad_norm = kNoValue;
    outputs_.clear();
    // Which tensor each layer outputs in this step's forward pass.
    set_forward_observer([this](const Module& m, const Tensor& y) {
        auto it = index_.find(&m);
        if (it == index_.end() || !y.requires_grad()) return;
        outputs_.push_back({y, it->second});
        // Let the operation that made y measure its gradient while reading it, if it can.
        autograd::request_output_grad_squares(y);
    });
}

void GradStats::on_backward(const autograd::TapeRecord& r) {
    // The operation that produced a layer's output has just run its backward: the gradient of
    // that output is complete, still in cache, and about to be freed. Measure it now (rather
    // than keeping every output's gradient until the end of the backward pass).
    for (const Output& o : outputs_)
        if (o.tensor.same_as(r.output) && r.output.has_grad()) {
            // Measured by the operation itself (see autograd::output_grad_squares_request), or
            // else here, in a pass of our own.
            stats_.layers[o.layer].output_grad_norm =
                std::isnan(r.output_grad_squares) ? l2_norm(r.output.grad(), r.output.numel())
                                                  : std::sqrt(r.output_grad_squares);
            return;
        }
}

void GradStats::after_backward() {
    set_forward_observer(nullptr);
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

void GradStats::after_update() {
    const std::vector<Optimizer::UpdateNorms>& updates = optimizer_.update_norms();
    for (size_t i = 0; i < layers_.size(); ++i)
        for (size_t j = 0; j < layers_[i].params.size(); ++j) {
            ParamStats& ps = stats_.layers[i].params[j];
            const int64_t slot = layers_[i].slot[j];
            if (slot < 0 || !updates[size_t(slot)].updated) {
                // Not updated this step (not optimized, or no gradient): the weights as they are.
                const Tensor& t = layers_[i].params[j].tensor;
                ps.weight_norm = l2_norm(t.data(), t.numel());
                ps.update_ratio = 0.0;
                continue;
            }
            const Optimizer::UpdateNorms& u = updates[size_t(slot)];
            ps.weight_norm = u.after;
            ps.update_ratio = u.before > 0 ? u.update / u.before : kNoValue;
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
