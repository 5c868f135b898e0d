#include "normgrad/train/grad_stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "normgrad/layers.hpp"
#include "normgrad/train/jsonl_log.hpp"

namespace normgrad::train {

namespace {

// Sums of squares in blocks: each block in float, vectorised (omp simd lets the compiler reorder
// the additions), the blocks added up in double, so the statistics cost a fraction of a step.
constexpr int64_t kBlock = 4096;

}  // namespace

double l2_norm(const float* v, int64_t n) {
    double total = 0.0;
    for (int64_t b = 0; b < n; b += kBlock) {
        const int64_t e = std::min(n, b + kBlock);
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (int64_t i = b; i < e; ++i) s += v[i] * v[i];
        total += s;
    }
    return std::sqrt(total);
}

const ParamStats* LayerStats::param(const std::string& n) const {
    for (const auto& p : params)
        if (p.name == n) return &p;
    return nullptr;
}

GradStats::GradStats(const Module& model) {
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
}

void GradStats::begin_step() {
    for (auto& w : layers_) w.output = Tensor{};
    set_forward_observer([this](const Module& m, const Tensor& y) {
        auto it = index_.find(&m);
        if (it == index_.end() || !y.requires_grad()) return;
        Tensor out = y;
        out.retain_grad();
        layers_[it->second].output = out;
    });
}

void GradStats::after_backward() {
    set_forward_observer(nullptr);
    double global = 0.0;
    for (size_t i = 0; i < layers_.size(); ++i) {
        Watched& w = layers_[i];
        LayerStats& l = stats_.layers[i];
        l.output_grad_norm = w.output.defined() && w.output.has_grad()
                                 ? l2_norm(w.output.grad(), w.output.numel())
                                 : kNoValue;
        if (w.output.defined()) w.output.release_grad();
        w.output = Tensor{};
        for (size_t j = 0; j < w.params.size(); ++j) {
            const Tensor& t = w.params[j].tensor;
            const double g = t.has_grad() ? l2_norm(t.grad(), t.numel()) : 0.0;
            l.params[j].grad_norm = g;
            global += g * g;
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
    stats_.global_grad_norm = std::sqrt(global);
}

void GradStats::before_update() {
    size_t k = 0;
    for (const auto& w : layers_)
        for (const auto& p : w.params) {
            if (before_.size() <= k) before_.emplace_back();
            before_[k++].assign(p.tensor.data(),
                                p.tensor.data() + p.tensor.numel());  // reuses memory
        }
}

void GradStats::after_update() {
    size_t k = 0;
    for (size_t i = 0; i < layers_.size(); ++i)
        for (size_t j = 0; j < layers_[i].params.size(); ++j, ++k) {
            const Tensor& t = layers_[i].params[j].tensor;
            const float* now = t.data();
            const float* old = before_[k].data();
            const int64_t n = t.numel();
            double diff = 0.0, norm = 0.0;  // ||w_after - w_before||^2 and ||w_before||^2
            for (int64_t b = 0; b < n; b += kBlock) {
                const int64_t e = std::min(n, b + kBlock);
                float sd = 0.f, sn = 0.f;
#pragma omp simd reduction(+ : sd, sn)
                for (int64_t x = b; x < e; ++x) {
                    const float d = now[x] - old[x];
                    sd += d * d;
                    sn += old[x] * old[x];
                }
                diff += sd;
                norm += sn;
            }
            ParamStats& ps = stats_.layers[i].params[j];
            ps.weight_norm = l2_norm(now, n);
            ps.update_ratio = norm > 0 ? std::sqrt(diff / norm) : kNoValue;
        }
}

std::string StepStats::json() const {
    std::string s = "{";
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerStats& l = layers[i];
        if (i) s += ",";
        s += fmt::format("{}:{{\"kind\":{},\"output_grad_norm\":{}", json_string(l.layer),
                         json_string(l.kind), json_number(l.output_grad_norm));
        for (const auto& p : l.params)
            s += fmt::format(",\"{0}_grad_norm\":{1},\"{0}_norm\":{2},\"{0}_update_ratio\":{3}",
                             p.name, json_number(p.grad_norm), json_number(p.weight_norm),
                             json_number(p.update_ratio));
        if (l.is_batchnorm)
            s += fmt::format(
                ",\"batch_mean_abs\":{},\"batch_var_mean\":{},\"batch_var_min\":{},"
                "\"batch_var_max\":{}",
                json_number(l.batch_mean_abs), json_number(l.batch_var_mean),
                json_number(l.batch_var_min), json_number(l.batch_var_max));
        s += "}";
    }
    return s + "}";
}

}  // namespace normgrad::train
