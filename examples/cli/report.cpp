// The HTML report of `normgrad compare`: one self-contained page, charts drawn as inline SVG.
//
// Every plotted line carries its data (data-steps, data-values) and every chart its scale
// (data-x0, data-x1, data-y0, data-y1, data-log and the plot area), so that a small script in the
// page, and the test that loads the page in headless Chromium, can check that the drawn points are
// the run's numbers.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "normgrad/files.hpp"
#include "normgrad/train/compare.hpp"
#include "normgrad/train/json_text.hpp"
#include "report.hpp"

namespace normgrad::cli {

using namespace normgrad::train;

namespace {

struct Series {
    std::string name, color;
    std::vector<double> x, y;
    int64_t diverged_at = 0;  // mark the first non-finite step
};

// The plot area is kWidth - kLeft - kRight wide; the legend stands in the right margin, outside it.
constexpr double kWidth = 780, kHeight = 300, kLeft = 70, kRight = 170, kTop = 36, kBottom = 40;

// A round tick spacing (1, 2 or 5 times a power of ten) giving about `ticks` ticks over `span`.
double round_step(double span, int ticks) {
    const double raw = span / ticks;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (m * p >= raw * (1 - 1e-9)) return m * p;
    return 10 * p;
}
// One colour per variant, in --variants order (the first two as before: red, blue).
const char* const kColors[] = {"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e",
                               "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
const char* color_of(size_t k) {
    return kColors[k % (sizeof kColors / sizeof kColors[0])];
}

std::string esc(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string svg_chart(const std::string& id, const std::string& title, const std::string& y_label,
                      const std::vector<Series>& series, bool log_y, bool percent = false) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    auto usable = [&](double v) { return std::isfinite(v) && (!log_y || v > 0); };
    for (const auto& s : series)
        for (size_t i = 0; i < s.x.size(); ++i) {
            if (!usable(s.y[i])) continue;
            x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
            const double v = log_y ? std::log10(s.y[i]) : s.y[i];
            y0 = std::min(y0, v), y1 = std::max(y1, v);
        }
    if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    x0 = std::min(x0, 1.0);  // every chart starts at the first step
    if (x1 <= x0) x1 = x0 + 1;
    if (log_y) {
        y0 = std::floor(y0), y1 = std::ceil(y1);
    } else if (percent) {
        y0 = std::max(0.0, std::floor(y0 * 10) / 10), y1 = 1.0;
    } else {
        const double pad = 0.05 * (y1 - y0 + 1e-12);
        y0 -= pad, y1 += pad;
    }
    if (y1 <= y0) y1 = y0 + 1;
    // A linear axis runs between round values, a tick at each round step.
    const double y_step = round_step(y1 - y0, 5);
    if (!log_y) {
        y0 = std::floor(y0 / y_step + 1e-9) * y_step;
        y1 = percent ? 1.0 : std::ceil(y1 / y_step - 1e-9) * y_step;
    }
    // On a log scale a tick every decade, or every few decades when the range is wide.
    const double decades_per_tick = log_y ? std::ceil((y1 - y0) / 8.0) : 1.0;
    if (log_y) {
        y0 = std::floor(y0 / decades_per_tick) * decades_per_tick;
        y1 = std::ceil(y1 / decades_per_tick) * decades_per_tick;
    }
    const int y_ticks = log_y ? std::max(1, int(std::lround((y1 - y0) / decades_per_tick)))
                              : std::max(1, int(std::lround((y1 - y0) / y_step)));
    const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
    auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
    auto py = [&](double v) {
        const double t = log_y ? std::log10(v) : v;
        return kTop + (1.0 - (t - y0) / (y1 - y0)) * ph;
    };

    std::string s = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" width="{}" height="{}" )"
        R"(viewBox="0 0 {} {}" data-x0="{}" data-x1="{}" data-y0="{}" data-y1="{}" data-log="{}" )"
        R"(data-left="{}" data-top="{}" data-width="{}" data-height="{}" font-family="sans-serif" font-size="11">)"
        "\n",
        id, kWidth, kHeight, kWidth, kHeight, x0, x1, y0, y1, log_y ? 1 : 0, kLeft, kTop, pw, ph);
    s += fmt::format(R"(<rect x="0" y="0" width="{}" height="{}" fill="white"/>)", kWidth, kHeight);
    s += fmt::format(R"(<text x="{}" y="20" font-size="14" font-weight="bold">{}</text>)", kLeft,
                     esc(title));
    // Axes, grid and tick labels.
    s += fmt::format(R"(<g stroke="#ccc" stroke-width="1">)");
    for (int i = 0; i <= y_ticks; ++i) {
        const double y = kTop + (1.0 - double(i) / y_ticks) * ph;
        s += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}"/>)", kLeft, y, kLeft + pw,
                         y);
    }
    s += "</g>";
    for (int i = 0; i <= y_ticks; ++i) {
        const double t = y0 + (y1 - y0) * i / y_ticks;
        const double y = kTop + (1.0 - double(i) / y_ticks) * ph;
        const std::string label = log_y     ? fmt::format("1e{:g}", t)
                                  : percent ? fmt::format("{:g}%", 100 * t)
                                            : fmt::format("{:g}", std::round(t / y_step) * y_step);
        s += fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end">{}</text>)", kLeft - 6, y + 4,
                         label);
    }
    // Step ticks at round numbers of steps.
    const double x_step = std::max(1.0, round_step(x1 - x0, 5));
    for (double x = std::ceil(x0 / x_step) * x_step; x <= x1 + 1e-9; x += x_step)
        s += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{:g}</text>)", px(x),
                         kTop + ph + 16, x);
    s += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">step</text>)", kLeft + pw / 2,
                     kHeight - 6);
    s += fmt::format(
        R"svg(<text x="14" y="{:.1f}" text-anchor="middle" transform="rotate(-90 14 {:.1f})">{}</text>)svg",
        kTop + ph / 2, kTop + ph / 2, esc(y_label));
    s += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#888"/>)",
                     kLeft, kTop, pw, ph);
    // The data.
    for (size_t k = 0; k < series.size(); ++k) {
        const Series& ser = series[k];
        std::string points, xs, ys;
        size_t count = 0;
        for (size_t i = 0; i < ser.x.size(); ++i) {
            if (!usable(ser.y[i])) continue;
            points += fmt::format("{}{:.2f},{:.2f}", count ? " " : "", px(ser.x[i]), py(ser.y[i]));
            xs += fmt::format("{}{:g}", count ? " " : "", ser.x[i]);
            ys += fmt::format("{}{:.9g}", count ? " " : "", ser.y[i]);
            ++count;
        }
        s += fmt::format(R"(<polyline class="series" fill="none" stroke="{}" stroke-width="1.5" )"
                         R"(data-series="{}" data-steps="{}" data-values="{}" points="{}"/>)"
                         "\n",
                         ser.color, esc(ser.name), xs, ys, points);
        if (count <= 25)  // few points (accuracy): draw them
            for (size_t i = 0; i < ser.x.size(); ++i)
                if (usable(ser.y[i]))
                    s += fmt::format(R"(<circle cx="{:.2f}" cy="{:.2f}" r="3" fill="{}"/>)",
                                     px(ser.x[i]), py(ser.y[i]), ser.color);
        if (ser.diverged_at > 0)
            s += fmt::format(
                R"(<text x="{:.1f}" y="{}" fill="{}">&#x2716; non-finite at step {}</text>)",
                std::min(px(double(ser.diverged_at)) + 6, kLeft + pw - 150), kTop + 14 + 14 * k,
                ser.color, ser.diverged_at);
        // Legend, in the right margin beside the plot, one line per series.
        const double legend_y = kTop + 12 + 16.0 * double(k);
        s += fmt::format(R"(<rect x="{}" y="{}" width="12" height="3" fill="{}"/>)",
                         kLeft + pw + 12, legend_y - 4, ser.color);
        s += fmt::format(R"(<text x="{}" y="{}">{}</text>)", kLeft + pw + 30, legend_y,
                         esc(ser.name));
    }
    return s + "</svg>\n";
}

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

// Checks, once the page has rendered, that every line's drawn points sit where its data says,
// and writes the result into #render-check (read by tests/test_report.cpp through Chromium).
const char* kRenderCheck = R"JS(
<script>
window.addEventListener('load', () => {
  const charts = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const d = svg.dataset, log = d.log === '1';
    const x0 = +d.x0, x1 = +d.x1, y0 = +d.y0, y1 = +d.y1;
    const left = +d.left, top = +d.top, w = +d.width, h = +d.height;
    const series = [];
    for (const line of svg.querySelectorAll('polyline.series')) {
      const steps = line.dataset.steps ? line.dataset.steps.split(' ').map(Number) : [];
      const values = line.dataset.values ? line.dataset.values.split(' ').map(Number) : [];
      const pts = line.getAttribute('points') ? line.getAttribute('points').split(' ') : [];
      let worst = 0;
      pts.forEach((p, i) => {
        const [px, py] = p.split(',').map(Number);
        const t = log ? Math.log10(values[i]) : values[i];
        const ex = left + (steps[i] - x0) / (x1 - x0) * w;
        const ey = top + (1 - (t - y0) / (y1 - y0)) * h;
        worst = Math.max(worst, Math.abs(px - ex), Math.abs(py - ey));
      });
      const box = line.getBBox();
      series.push({name: line.dataset.series, points: pts.length, values: values.length,
                   worst_pixel_error: worst, bbox_width: box.width, bbox_height: box.height});
    }
    const r = svg.getBoundingClientRect();
    charts.push({id: svg.id, rendered_width: r.width, rendered_height: r.height, series});
  }
  document.getElementById('render-check').textContent = JSON.stringify({charts});
});
</script>
)JS";

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
            verdict_html += (verdict_html.empty() ? "" : "<br>") + esc(line);
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
        esc(r.config.title.empty() ? "normgrad compare" : r.config.title), esc(c.model.kind),
        esc(spec_text(c.model)), "", to_string(c.model.activation), to_string(c.model.init),
        c.optimizer, c.lr, c.momentum, c.batch, c.epochs, c.seed, esc(variants),
        to_string(c.model.input), verdict_html);
    for (const RunRecord& run : r.runs)
        html += fmt::format("<tr><th>{}</th><td>{:.2f}%</td><td>{}</td><td>{}</td></tr>\n",
                            esc(run.label), 100 * run.test_accuracy, run.steps.size(),
                            run.diverged_step ? std::to_string(run.diverged_step) : "none");
    html += "</table>\n<div class=\"charts\">\n";
    for (const auto& [id, svg] : charts) html += svg;
    html += "</div>\n<h2>Table</h2>\n<pre>" + esc(format_table(r)) + "</pre>\n";
    html += "<pre id=\"render-check\">(the render check runs when the page has loaded)</pre>\n";
    html += kRenderCheck;
    html += "</body></html>\n";
    write_file_atomically(path, html);

    // Each chart also as its own SVG file beside the page (for documents); charts of an earlier
    // comparison in the folder that this one does not have (layers of another model) go, so
    // the folder holds one comparison.
    const std::string dir = path.substr(0, path.find_last_of('/') + 1);
    std::set<std::string> written;
    for (const auto& [id, svg] : charts) {
        write_file_atomically(dir + "chart-" + id + ".svg", svg);
        written.insert("chart-" + id + ".svg");
    }
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir.empty() ? "." : dir, ec)) {
        const std::string name = e.path().filename().string();
        if (e.is_regular_file(ec) && name.rfind("chart-", 0) == 0 && name.size() > 10 &&
            name.substr(name.size() - 4) == ".svg" && !written.count(name))
            std::filesystem::remove(e.path(), ec);
    }
}

}  // namespace normgrad::cli
