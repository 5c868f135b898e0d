#include "svg_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "normgrad/files.hpp"

namespace normgrad::cli {

namespace {

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
}  // namespace

const char* color_of(size_t k) {
    return kColors[k % (sizeof kColors / sizeof kColors[0])];
}

std::string html_escape(const std::string& s) {
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
                      const std::vector<Series>& series, const ChartAxes& axes) {
    const bool log_y = axes.log_y, log_x = axes.log_x, percent = axes.percent;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    auto usable = [&](double v) { return std::isfinite(v) && (!log_y || v > 0); };
    auto usable_x = [&](double x) { return std::isfinite(x) && (!log_x || x > 0); };
    // On a log x axis x0 and x1 are powers of ten (log10 of the values).
    auto tx = [&](double x) { return log_x ? std::log10(x) : x; };
    std::set<double> xs_seen;
    for (const auto& s : series)
        for (size_t i = 0; i < s.x.size(); ++i) {
            if (!usable(s.y[i]) || !usable_x(s.x[i])) continue;
            xs_seen.insert(s.x[i]);
            x0 = std::min(x0, tx(s.x[i])), x1 = std::max(x1, tx(s.x[i]));
            const double v = log_y ? std::log10(s.y[i]) : s.y[i];
            y0 = std::min(y0, v), y1 = std::max(y1, v);
        }
    if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (axes.x_from_one && !log_x) x0 = std::min(x0, 1.0);  // a step chart starts at step 1
    if (log_x) {
        const double pad = 0.04 * (x1 - x0 + 1e-12);
        x0 -= pad, x1 += pad;
    }
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
    auto px = [&](double x) { return kLeft + (tx(x) - x0) / (x1 - x0) * pw; };
    auto py = [&](double v) {
        const double t = log_y ? std::log10(v) : v;
        return kTop + (1.0 - (t - y0) / (y1 - y0)) * ph;
    };

    std::string s = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" width="{}" height="{}" )"
        R"(viewBox="0 0 {} {}" data-x0="{}" data-x1="{}" data-y0="{}" data-y1="{}" data-log="{}" data-logx="{}" )"
        R"(data-left="{}" data-top="{}" data-width="{}" data-height="{}" font-family="sans-serif" font-size="11">)"
        "\n",
        id, kWidth, kHeight, kWidth, kHeight, x0, x1, y0, y1, log_y ? 1 : 0, log_x ? 1 : 0, kLeft,
        kTop, pw, ph);
    s += fmt::format(R"(<rect x="0" y="0" width="{}" height="{}" fill="white"/>)", kWidth, kHeight);
    s += fmt::format(R"(<text x="{}" y="20" font-size="14" font-weight="bold">{}</text>)", kLeft,
                     html_escape(title));
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
    if (log_x) {
        // A log axis is labelled at the values the data has (batch sizes 2, 4, ..., 128; the
        // learning rates swept) when they are few, else at powers of ten.
        std::vector<double> ticks(xs_seen.begin(), xs_seen.end());
        if (ticks.size() > 12) {
            ticks.clear();
            for (double e = std::ceil(x0); e <= x1 + 1e-9; e += 1) ticks.push_back(std::pow(10, e));
        }
        for (double x : ticks)
            s += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{:g}</text>)", px(x),
                             kTop + ph + 16, x);
    } else {
        // Ticks at round numbers of steps.
        const double x_step =
            axes.x_from_one ? std::max(1.0, round_step(x1 - x0, 5)) : round_step(x1 - x0, 5);
        for (double x = std::ceil(x0 / x_step) * x_step; x <= x1 + 1e-9; x += x_step)
            s += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{:g}</text>)", px(x),
                             kTop + ph + 16, std::round(x / x_step) * x_step);
    }
    s += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", kLeft + pw / 2,
                     kHeight - 6, html_escape(axes.x_label));
    s += fmt::format(
        R"svg(<text x="14" y="{:.1f}" text-anchor="middle" transform="rotate(-90 14 {:.1f})">{}</text>)svg",
        kTop + ph / 2, kTop + ph / 2, html_escape(y_label));
    s += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#888"/>)",
                     kLeft, kTop, pw, ph);
    // The data.
    for (size_t k = 0; k < series.size(); ++k) {
        const Series& ser = series[k];
        std::string points, xs, ys;
        size_t count = 0;
        for (size_t i = 0; i < ser.x.size(); ++i) {
            if (!usable(ser.y[i]) || !usable_x(ser.x[i])) continue;
            points += fmt::format("{}{:.2f},{:.2f}", count ? " " : "", px(ser.x[i]), py(ser.y[i]));
            xs += fmt::format("{}{:g}", count ? " " : "", ser.x[i]);
            ys += fmt::format("{}{:.9g}", count ? " " : "", ser.y[i]);
            ++count;
        }
        s += fmt::format(R"(<polyline class="series" fill="none" stroke="{}" stroke-width="1.5" )"
                         R"(data-series="{}" data-steps="{}" data-values="{}" points="{}"/>)"
                         "\n",
                         ser.color, html_escape(ser.name), xs, ys, points);
        if (count <= 25)  // few points (accuracy): draw them
            for (size_t i = 0; i < ser.x.size(); ++i)
                if (usable(ser.y[i]) && usable_x(ser.x[i]))
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
                         html_escape(ser.name));
    }
    return s + "</svg>\n";
}

// Checks, once the page has rendered, that every line's drawn points sit where its data says,
// and writes the result into #render-check (read by tests/test_report.cpp through Chromium).
const char* const kRenderCheck = R"JS(
<script>
window.addEventListener('load', () => {
  const charts = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const d = svg.dataset, log = d.log === '1', logx = d.logx === '1';
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
        const sx = logx ? Math.log10(steps[i]) : steps[i];
        const ex = left + (sx - x0) / (x1 - x0) * w;
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

void write_chart_files(const std::string& dir,
                       const std::vector<std::pair<std::string, std::string>>& charts) {
    const std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
    std::set<std::string> written;
    for (const auto& [id, svg] : charts) {
        write_file_atomically(prefix + "chart-" + id + ".svg", svg);
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
