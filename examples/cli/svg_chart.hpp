// Line charts as inline SVG, for the HTML pages of `normgrad compare` and `normgrad study`.
//
// Every plotted line carries its data (data-steps, data-values) and every chart its scale
// (data-x0, data-x1, data-y0, data-y1, data-log, data-logx and the plot area), so that the
// render check of kRenderCheck, and the tests that load a page in headless Chromium, can check
// that the drawn points are the run's numbers.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace normgrad::cli {

struct Series {
    std::string name, color;
    std::vector<double> x, y;
    int64_t diverged_at = 0;  // mark the first non-finite step (x is a step)
};

struct ChartAxes {
    std::string x_label = "step";
    bool log_x = false;  // batch sizes, learning rates: one tick per power of ten or of two
    bool log_y = false;
    bool percent = false;    // y is a fraction in [0, 1], labelled in per cent, the top at 100%
    bool x_from_one = true;  // the x axis starts at 1 at most (steps)
};

// One colour per series, in order (the first two: red, blue).
const char* color_of(size_t k);
// `s` escaped for HTML text and attribute values.
std::string html_escape(const std::string& s);

std::string svg_chart(const std::string& id, const std::string& title, const std::string& y_label,
                      const std::vector<Series>& series, const ChartAxes& axes);
// The step-axis form compare uses.
inline std::string svg_chart(const std::string& id, const std::string& title,
                             const std::string& y_label, const std::vector<Series>& series,
                             bool log_y, bool percent = false) {
    ChartAxes a;
    a.log_y = log_y;
    a.percent = percent;
    return svg_chart(id, title, y_label, series, a);
}

// The page script that checks, once the page has rendered, that every line's drawn points sit
// where its data says, and writes the result into <pre id="render-check">.
extern const char* const kRenderCheck;

// Writes each chart as chart-<id>.svg into `dir` (for documents) and removes the chart-*.svg
// files there that this set does not have, so that the folder holds one run's charts.
void write_chart_files(const std::string& dir,
                       const std::vector<std::pair<std::string, std::string>>& charts);

}  // namespace normgrad::cli
