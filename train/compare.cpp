#include "normgrad/train/compare.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "normgrad/autograd.hpp"
#include "normgrad/files.hpp"
#include "normgrad/train/evaluate.hpp"
#include "normgrad/train/json_text.hpp"

namespace normgrad::train {

namespace {

RunRecord run_one(const CompareConfig& cc, bool batchnorm, const Dataset& train_set,
                  const Dataset& test_set) {
    TrainConfig c = cc.base;
    c.model.batchnorm = batchnorm;
    c.grad_stats = true;
    c.save_path.clear();
    c.progress_label = batchnorm ? "BatchNorm on" : "BatchNorm off";
    RunRecord rec;
    rec.label = batchnorm ? "BatchNorm on" : "BatchNorm off";
    rec.batchnorm = batchnorm;
    Rng init(c.seed);  // BatchNorm draws no random numbers: shared layers start identical
    auto model = build_model(c.model, init);

    const int64_t steps_per_epoch = (train_set.count + c.batch - 1) / c.batch;
    int64_t total = steps_per_epoch * c.epochs;
    if (c.max_steps > 0) total = std::min(total, c.max_steps);
    const int64_t eval_every = cc.eval_every > 0 ? cc.eval_every : std::max<int64_t>(1, total / 10);

    // The layers with parameters, in forward order (a step without statistics, such as one
    // whose loss was not finite, fills their columns with NaN).
    for (const auto& [name, layer] : model->children())
        if (!layer->parameters().empty()) rec.layers.push_back(name);
    auto on_step = [&](const StepInfo& s) {
        StepRow row{s.step, s.epoch, s.loss, s.grad_norm, {}, {}};
        for (const auto& name : rec.layers) {
            double g = NAN, o = NAN;
            for (size_t k = 0; s.stats && k < s.stats->layers.size(); ++k)
                if (const LayerStats& l = s.stats->layers[k]; l.layer == name && !l.params.empty())
                    g = l.params.front().grad_norm, o = l.output_grad_norm;
            row.layer_grad.push_back(g);
            row.layer_output_grad.push_back(o);
        }
        rec.steps.push_back(std::move(row));
        if (s.step % eval_every == 0 && s.step != total && std::isfinite(s.loss))
            rec.evals.push_back({s.step, evaluate(*model, test_set).accuracy});
    };
    try {
        const TrainResult r = train(c, *model, train_set, test_set, on_step);
        if (r.interrupted) {
            rec.interrupted = true;
            return rec;
        }
        rec.test_accuracy = r.epochs.back().test_accuracy;
        rec.evals.push_back({rec.steps.empty() ? 0 : rec.steps.back().step, rec.test_accuracy});
    } catch (const DivergedError& e) {
        rec.diverged_step = e.step;
        rec.diverged_value = e.value;
        rec.diverged_message = e.what();
        rec.test_accuracy = evaluate(*model, test_set).accuracy;
        rec.evals.push_back({e.step, rec.test_accuracy});
    }
    return rec;
}

std::string value_or_dash(double v) {
    return std::isfinite(v) ? fmt::format("{:.3e}", v) : "-";
}

// The row of `run` at `step`, or null when the run has no such step (diverged earlier).
const StepRow* row_at(const RunRecord& run, int64_t step) {
    if (step < 1 || step > static_cast<int64_t>(run.steps.size())) return nullptr;
    return &run.steps[size_t(step - 1)];
}

double layer_value(const RunRecord& run, const StepRow* row, const std::string& layer) {
    if (!row) return NAN;
    for (size_t i = 0; i < run.layers.size(); ++i)
        if (run.layers[i] == layer) return row->layer_grad[i];
    return NAN;
}

}  // namespace

CompareResult run_compare(const CompareConfig& config, const Dataset& train_set,
                          const Dataset& test_set) {
    CompareResult r;
    r.config = config;
    r.off = run_one(config, false, train_set, test_set);
    if (r.off.interrupted) {
        r.interrupted = true;
        return r;
    }
    r.on = run_one(config, true, train_set, test_set);
    r.interrupted = r.on.interrupted;
    r.layers = r.on.layers;
    for (const auto& l : r.off.layers)
        if (std::find(r.layers.begin(), r.layers.end(), l) == r.layers.end()) r.layers.push_back(l);
    return r;
}

std::string format_table(const CompareResult& r) {
    const int64_t last = std::max(r.off.steps.size(), r.on.steps.size());
    std::vector<int64_t> cols{1};
    for (int64_t s : r.config.at_steps)
        if (s > 1 && s < last) cols.push_back(s);
    if (last > 1) cols.push_back(last);

    std::string out = "L2 norm of each layer's weight gradient (BatchNorm off | on)\n";
    out += fmt::format("{:<10}", "layer");
    for (int64_t s : cols) out += fmt::format(" {:>23}", fmt::format("step {}", s));
    out += "\n";
    auto row = [&](const std::string& name, auto value) {
        out += fmt::format("{:<10}", name);
        for (int64_t s : cols) {
            const double a = value(r.off, row_at(r.off, s)), b = value(r.on, row_at(r.on, s));
            out += fmt::format(" {:>11}|{:<11}", value_or_dash(a), value_or_dash(b));
        }
        out += "\n";
    };
    for (const auto& l : r.layers)
        row(l, [&](const RunRecord& run, const StepRow* sr) { return layer_value(run, sr, l); });
    row("global", [](const RunRecord&, const StepRow* sr) { return sr ? sr->grad_norm : NAN; });
    row("loss", [](const RunRecord&, const StepRow* sr) { return sr ? sr->loss : NAN; });
    for (const RunRecord* run : {&r.off, &r.on})
        out += fmt::format("{:<14} test accuracy {:6.2f}%   first non-finite step: {}\n",
                           run->label, 100.0 * run->test_accuracy,
                           run->diverged_step ? std::to_string(run->diverged_step) : "none");
    return out;
}

void write_csv(const CompareResult& r, const std::string& path) {
    std::string s = "step,epoch";
    for (const char* tag : {"off", "on"}) s += fmt::format(",loss_{0},grad_norm_{0}", tag);
    s += ",event_off,event_on";
    for (const auto& l : r.layers)
        for (const char* tag : {"off", "on"})
            s += fmt::format(",{0}_grad_{1},{0}_output_grad_{1}", l, tag);
    s += "\n";
    auto num = [](double v) { return std::isfinite(v) ? fmt::format("{:.9g}", v) : std::string(); };
    const size_t n = std::max(r.off.steps.size(), r.on.steps.size());
    for (size_t i = 0; i < n; ++i) {
        const StepRow* a = i < r.off.steps.size() ? &r.off.steps[i] : nullptr;
        const StepRow* b = i < r.on.steps.size() ? &r.on.steps[i] : nullptr;
        const StepRow* any = a ? a : b;
        s += fmt::format("{},{}", any->step, any->epoch);
        for (const StepRow* x : {a, b})
            s += fmt::format(",{},{}", num(x ? x->loss : NAN), num(x ? x->grad_norm : NAN));
        for (const RunRecord* run : {&r.off, &r.on})  // the step at which a run stopped
            s += run->diverged_step == any->step
                     ? fmt::format(",diverged ({} not finite)", run->diverged_value)
                     : std::string(",");
        for (const auto& l : r.layers)
            for (const auto* run : {&r.off, &r.on}) {
                const StepRow* x = run == &r.off ? a : b;
                double g = NAN, o = NAN;
                for (size_t k = 0; x && k < run->layers.size(); ++k)
                    if (run->layers[k] == l) g = x->layer_grad[k], o = x->layer_output_grad[k];
                s += fmt::format(",{},{}", num(g), num(o));
            }
        s += "\n";
    }
    write_file_atomically(path, s);
}

}  // namespace normgrad::train
