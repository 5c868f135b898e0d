#include "normgrad/train/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>

#include "normgrad/autograd.hpp"
#include "normgrad/files.hpp"
#include "normgrad/train/evaluate.hpp"
#include "normgrad/train/json_text.hpp"

namespace normgrad::train {

namespace {

RunRecord run_one(const CompareConfig& cc, const Norm& norm, const Dataset& train_set,
                  const Dataset& test_set) {
    TrainConfig c = cc.base;
    c.model.norm = norm;
    c.grad_stats = true;
    c.save_path.clear();
    RunRecord rec;
    rec.label = describe(norm);
    rec.tag = variant_tag(norm);
    rec.norm = norm;
    c.progress_label = rec.label;
    Rng init(c.seed);  // normalisations draw no random numbers: shared layers start identical
    auto model = build_model(c.model, init);

    const int64_t steps_per_epoch = (train_set.count + c.batch - 1) / c.batch;
    int64_t total = steps_per_epoch * c.epochs;
    if (c.max_steps > 0) total = std::min(total, c.max_steps);
    const int64_t eval_every = cc.eval_every > 0 ? cc.eval_every : std::max<int64_t>(1, total / 10);

    // The layers with parameters, in forward order (a step without statistics, such as one
    // whose loss was not finite, fills their columns with NaN).
    // (Leaf layers by path, as the statistics name them: res1.conv1.)
    model->visit([&](const std::string& path, const Module& m) {
        if (m.children().empty() && !m.parameters().empty()) rec.layers.push_back(path);
    });
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
            rec.evals.push_back({s.step, evaluate(*model, test_set, 128, c.model.input).accuracy});
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
        rec.test_accuracy = evaluate(*model, test_set, 128, c.model.input).accuracy;
        rec.evals.push_back({e.step, rec.test_accuracy});
    }
    return rec;
}

// The row of `run` at `step`, or null when the run has no such step (it stopped earlier).
const StepRow* row_at(const RunRecord& run, int64_t step) {
    if (step < 1 || step > static_cast<int64_t>(run.steps.size())) return nullptr;
    return &run.steps[size_t(step - 1)];
}

bool has_layer(const RunRecord& run, const std::string& layer) {
    return std::find(run.layers.begin(), run.layers.end(), layer) != run.layers.end();
}

double layer_value(const RunRecord& run, const StepRow* row, const std::string& layer) {
    if (!row) return NAN;
    for (size_t i = 0; i < run.layers.size(); ++i)
        if (run.layers[i] == layer) return row->layer_grad[i];
    return NAN;
}

// A table cell: the number, or what stands in its place. "n/a": the run has no such layer;
// "stopped": the run ended before this step; at the step where a run diverged, the value that
// stopped being finite ("inf", "nan") and "diverged" for what was not measured there.
std::string cell(const RunRecord& run, int64_t step, double v, bool present) {
    if (!present) return "n/a";
    if (!row_at(run, step)) return "stopped";
    if (std::isfinite(v)) return fmt::format("{:.3e}", v);
    if (step == run.diverged_step) return std::isnan(v) ? "diverged" : fmt::format("{}", v);
    return fmt::format("{}", v);
}

std::string short_number(double v) {
    return std::isfinite(v) ? fmt::format("{:.3g}", v) : fmt::format("{}", v);
}

}  // namespace

std::string variant_tag(const Norm& n) {
    std::string t = to_string(n);
    t.erase(std::remove(t.begin(), t.end(), ':'), t.end());
    return t;
}

CompareResult run_compare(const CompareConfig& config, const Dataset& train_set,
                          const Dataset& test_set) {
    CompareResult r;
    r.config = config;
    for (const Norm& v : config.variants) {
        r.runs.push_back(run_one(config, v, train_set, test_set));
        if (r.runs.back().interrupted) {
            r.interrupted = true;
            return r;
        }
    }
    // The union of the layers in forward order: the run with the most layers first, then any
    // other's missing ones.
    std::vector<const RunRecord*> by_size;
    for (const auto& run : r.runs) by_size.push_back(&run);
    std::stable_sort(by_size.begin(), by_size.end(), [](const RunRecord* a, const RunRecord* b) {
        return a->layers.size() > b->layers.size();
    });
    for (const RunRecord* run : by_size)
        for (const auto& l : run->layers)
            if (std::find(r.layers.begin(), r.layers.end(), l) == r.layers.end())
                r.layers.push_back(l);
    return r;
}

std::vector<int64_t> table_steps(const CompareResult& r) {
    int64_t last = 0, first_diverged = 0;
    for (const auto& run : r.runs) {
        last = std::max<int64_t>(last, int64_t(run.steps.size()));
        if (run.diverged_step && (!first_diverged || run.diverged_step < first_diverged))
            first_diverged = run.diverged_step;
    }
    std::vector<int64_t> steps{1};
    if (first_diverged > 1) {
        // Up to the blow-up: every step when it came within 8, else the first three, steps
        // doubling in between, and the last two before it.
        if (first_diverged <= 8) {
            for (int64_t s = 2; s <= first_diverged; ++s) steps.push_back(s);
        } else {
            for (int64_t s : {int64_t(2), int64_t(3)}) steps.push_back(s);
            for (int64_t s = 6; s < first_diverged - 1; s *= 2) steps.push_back(s);
            steps.push_back(first_diverged - 1);
            steps.push_back(first_diverged);
        }
    }
    for (int64_t s : r.config.at_steps)
        if (s > 1 && s < last) steps.push_back(s);
    if (last > 1) steps.push_back(last);
    std::sort(steps.begin(), steps.end());
    steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
    return steps;
}

std::string verdict(const CompareResult& r) {
    std::string out;
    for (const auto& run : r.runs) {
        if (run.steps.empty()) continue;
        const double acc = 100.0 * run.test_accuracy;
        if (run.diverged_step) {
            // The loss and the gradient norm step by step, up to where they stopped (the first
            // steps and the last three before it when there are many).
            std::string path;
            const int64_t k = run.diverged_step;
            for (int64_t s = 1; s <= k; ++s) {
                if (k > 8 && s > 3 && s < k - 2) {
                    if (s == 4) path += ", ...";
                    continue;
                }
                const StepRow* row = row_at(run, s);
                if (!row) break;
                path += fmt::format("{}step {}: loss {}, gradient norm {}", s == 1 ? "" : "; ", s,
                                    short_number(row->loss), short_number(row->grad_norm));
            }
            out += fmt::format(
                "{}: diverged. {}; the {} became non-finite at step {}. Test accuracy {:.2f}%.\n",
                run.label, path, run.diverged_value == "loss" ? "loss" : "gradient norm", k, acc);
        } else {
            double lo = INFINITY, hi = 0;
            for (const auto& row : run.steps)
                if (std::isfinite(row.grad_norm))
                    lo = std::min(lo, row.grad_norm), hi = std::max(hi, row.grad_norm);
            out += fmt::format(
                "{}: trained all {} steps; the loss went from {} to {}, the global gradient norm "
                "stayed between {} and {}. Test accuracy {:.2f}%.\n",
                run.label, run.steps.size(), short_number(run.steps.front().loss),
                short_number(run.steps.back().loss), short_number(lo), short_number(hi), acc);
        }
    }
    return out;
}

std::string format_table(const CompareResult& r) {
    std::string tags;
    for (const auto& run : r.runs) {
        if (!tags.empty()) tags += " | ";
        tags += run.tag;
    }
    const std::vector<int64_t> cols = table_steps(r);

    const size_t cell_width = 12 * r.runs.size() - 1;
    std::string out = fmt::format("L2 norm of each layer's weight gradient ({})\n", tags);
    size_t name_width = 10;
    for (const auto& l : r.layers) name_width = std::max(name_width, l.size() + 1);
    out += fmt::format("{:<{}}", "layer", name_width);
    for (int64_t s : cols) out += fmt::format(" {:>{}}", fmt::format("step {}", s), cell_width);
    out += "\n";
    auto row = [&](const std::string& name, auto value, auto present) {
        out += fmt::format("{:<{}}", name, name_width);
        for (int64_t s : cols) {
            std::string c;
            for (const auto& run : r.runs) {
                if (!c.empty()) c += '|';
                c += fmt::format("{:>11}", cell(run, s, value(run, row_at(run, s)), present(run)));
            }
            out += " " + c;
        }
        out += "\n";
    };
    auto always = [](const RunRecord&) { return true; };
    for (const auto& l : r.layers)
        row(
            l, [&](const RunRecord& run, const StepRow* sr) { return layer_value(run, sr, l); },
            [&](const RunRecord& run) { return has_layer(run, l); });
    row(
        "global", [](const RunRecord&, const StepRow* sr) { return sr ? sr->grad_norm : NAN; },
        always);
    row(
        "loss", [](const RunRecord&, const StepRow* sr) { return sr ? sr->loss : NAN; }, always);
    size_t label_width = 14;
    for (const auto& run : r.runs) label_width = std::max(label_width, run.label.size() + 1);
    for (const auto& run : r.runs)
        out += fmt::format("{:<{}} test accuracy {:6.2f}%   first non-finite step: {}\n", run.label,
                           label_width, 100.0 * run.test_accuracy,
                           run.diverged_step ? std::to_string(run.diverged_step) : "none");
    return out;
}

void write_csv(const CompareResult& r, const std::string& path) {
    std::string s = "step,epoch";
    for (const auto& run : r.runs) s += fmt::format(",loss_{0},grad_norm_{0}", run.tag);
    for (const auto& run : r.runs) s += fmt::format(",event_{}", run.tag);
    for (const auto& l : r.layers)
        for (const auto& run : r.runs)
            s += fmt::format(",{0}_grad_{1},{0}_output_grad_{1}", l, run.tag);
    s += "\n";
    auto num = [](double v) { return std::isfinite(v) ? fmt::format("{:.9g}", v) : std::string(); };
    size_t n = 0;
    for (const auto& run : r.runs) n = std::max(n, run.steps.size());
    for (size_t i = 0; i < n; ++i) {
        std::vector<const StepRow*> rows;
        const StepRow* any = nullptr;
        for (const auto& run : r.runs) {
            rows.push_back(i < run.steps.size() ? &run.steps[i] : nullptr);
            if (!any) any = rows.back();
        }
        s += fmt::format("{},{}", any->step, any->epoch);
        for (const StepRow* x : rows)
            s += fmt::format(",{},{}", num(x ? x->loss : NAN), num(x ? x->grad_norm : NAN));
        for (const auto& run : r.runs)  // the step at which a run stopped
            s += run.diverged_step == any->step
                     ? fmt::format(",diverged ({} not finite)", run.diverged_value)
                     : std::string(",");
        for (const auto& l : r.layers)
            for (size_t k = 0; k < r.runs.size(); ++k) {
                const RunRecord& run = r.runs[k];
                const StepRow* x = rows[k];
                double g = NAN, o = NAN;
                for (size_t j = 0; x && j < run.layers.size(); ++j)
                    if (run.layers[j] == l) g = x->layer_grad[j], o = x->layer_output_grad[j];
                s += fmt::format(",{},{}", num(g), num(o));
            }
        s += "\n";
    }
    write_file_atomically(path, s);
}

}  // namespace normgrad::train
