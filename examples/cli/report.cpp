// The HTML report of `normgrad compare`: one self-contained page, charts drawn as inline SVG by
// svg_chart.hpp, whose render check lets the test that loads the page in headless Chromium see
// that the drawn points are the run's numbers.
#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "normgrad/files.hpp"
#include "normgrad/train/compare.hpp"
#include "report.hpp"
#include "svg_chart.hpp"

namespace normgrad::cli {

using namespace normgrad::train;

namespace {

Series step_series(const RunRecord& run, const char* color, auto value) {
    Series s{run.label, color, {}, {}, run.diverged_step};
    for (const auto& row : run.steps) {
        s.x.push_back(double(row.step));
        s.y.push_back(value(row));
    }
    return s;
}

Series layer_series(const RunRecord& run, const char* color, const std::string& layer) {
    for (size_t k = 0; k < run.layers.size(); ++k)
        if (run.layers[k] == layer)
            return step_series(run, color, [k](const StepRow& r) { return r.layer_grad[k]; });
    return Series{run.label, color, {}, {}, 0};  // no such layer: nothing to mark
}

}  // namespace

void write_html(const CompareResult& r, const std::string& path) {
    const TrainConfig& c = r.config.base;
    auto loss = [](const StepRow& s) { return s.loss; };
    auto global = [](const StepRow& s) { return s.grad_norm; };
    std::vector<std::pair<std::string, std::string>> charts;  // id, svg
    // One series per run, each in its colour.
    auto per_run = [&](auto series_of) {
        std::vector<Series> v;
        for (size_t k = 0; k < r.runs.size(); ++k) v.push_back(series_of(r.runs[k], color_of(k)));
        return v;
    };
    charts.emplace_back("loss", svg_chart("loss", "Training loss", "cross-entropy (log scale)",
                                          per_run([&](const RunRecord& run, const char* color) {
                                              return step_series(run, color, loss);
                                          }),
                                          true));
    auto acc_series = [](const RunRecord& run, const char* color) {
        Series s{run.label, color, {}, {}, run.diverged_step};
        for (const auto& e : run.evals) s.x.push_back(double(e.step)), s.y.push_back(e.accuracy);
        return s;
    };
    charts.emplace_back("accuracy", svg_chart("accuracy", "Test accuracy", "accuracy",
                                              per_run(acc_series), false, true));
    charts.emplace_back("grad-norm",
                        svg_chart("grad-norm", "Global gradient norm", "L2 norm (log scale)",
                                  per_run([&](const RunRecord& run, const char* color) {
                                      return step_series(run, color, global);
                                  }),
                                  true));
    // A run that diverged early is a few pixels against the whole run's axis: its first steps
    // get charts of their own (up to twice the step where it stopped).
    int64_t first_diverged = 0, longest = 0;
    for (const auto& run : r.runs) {
        longest = std::max<int64_t>(longest, int64_t(run.steps.size()));
        if (run.diverged_step && (!first_diverged || run.diverged_step < first_diverged))
            first_diverged = run.diverged_step;
    }
    if (first_diverged && 2 * first_diverged < longest) {
        const int64_t until = 2 * first_diverged;
        auto first_steps = [&](auto value) {
            return per_run([&, value](const RunRecord& run, const char* color) {
                Series ser = step_series(run, color, value);
                while (!ser.x.empty() && ser.x.back() > double(until))
                    ser.x.pop_back(), ser.y.pop_back();
                return ser;
            });
        };
        charts.emplace_back(
            "loss-first-steps",
            svg_chart("loss-first-steps", fmt::format("Training loss, steps 1 to {}", until),
                      "cross-entropy (log scale)", first_steps(loss), true));
        charts.emplace_back("grad-norm-first-steps",
                            svg_chart("grad-norm-first-steps",
                                      fmt::format("Global gradient norm, steps 1 to {}", until),
                                      "L2 norm (log scale)", first_steps(global), true));
    }
    for (const auto& l : r.layers)
        charts.emplace_back(
            "layer-" + l,
            svg_chart("layer-" + l, fmt::format("{}: weight gradient norm", l),
                      "L2 norm (log scale)", per_run([&](const RunRecord& run, const char* color) {
                          return layer_series(run, color, l);
                      }),
                      true));

    std::string verdict_html;
    {
        std::istringstream lines(verdict(r));
        for (std::string line; std::getline(lines, line);)
            verdict_html += (verdict_html.empty() ? "" : "<br>") + html_escape(line);
    }
    std::string variants;
    for (const auto& run : r.runs) {
        if (!variants.empty()) variants += " versus ";
        variants += run.label;
    }
    std::string html = fmt::format(
        R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>normgrad compare: {0}</title>
<style>body{{font-family:sans-serif;max-width:1600px;margin:1em auto;color:#222}}
.charts{{display:flex;flex-wrap:wrap;gap:12px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style>
</head><body>
<h1>{12}</h1>
<p class="verdict">{14}</p>
<p>{0}</p>
<p>Model <b>{1}</b>: {2} (activation {4}, init {5}, input {13}), optimizer {6}, lr {7}, momentum {8},
batch {9}, epochs {10}, seed {11}. Every run starts from the same weights in every shared layer and sees the
same batches in the same order.</p>
<table><tr><th></th><th>test accuracy</th><th>steps run</th><th>first non-finite step</th></tr>
)",
        html_escape(r.config.title.empty() ? "normgrad compare" : r.config.title),
        html_escape(c.model.kind), html_escape(spec_text(c.model)), "",
        to_string(c.model.activation), to_string(c.model.init), c.optimizer, c.lr, c.momentum,
        c.batch, c.epochs, c.seed, html_escape(variants), to_string(c.model.input), verdict_html);
    for (const RunRecord& run : r.runs)
        html += fmt::format("<tr><th>{}</th><td>{:.2f}%</td><td>{}</td><td>{}</td></tr>\n",
                            html_escape(run.label), 100 * run.test_accuracy, run.steps.size(),
                            run.diverged_step ? std::to_string(run.diverged_step) : "none");
    html += "</table>\n<div class=\"charts\">\n";
    for (const auto& [id, svg] : charts) html += svg;
    html += "</div>\n<h2>Table</h2>\n<pre>" + html_escape(format_table(r)) + "</pre>\n";
    html += "<pre id=\"render-check\">(the render check runs when the page has loaded)</pre>\n";
    html += kRenderCheck;
    html += "</body></html>\n";
    write_file_atomically(path, html);

    // Each chart also as its own SVG file beside the page (for documents); charts of an earlier
    // comparison in the folder that this one does not have (layers of another model) go.
    write_chart_files(path.substr(0, path.find_last_of('/') + 1), charts);
}

}  // namespace normgrad::cli
