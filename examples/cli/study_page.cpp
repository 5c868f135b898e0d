#include "study_page.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <sstream>

#include "normgrad/files.hpp"
#include "svg_chart.hpp"
#include "usage_error.hpp"

namespace normgrad::cli {

std::string study_folder(const std::string& out, const std::string& name, RunFiles& files) {
    const std::string dir = out.empty() ? "runs/study/" + name : out;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        throw UsageError(fmt::format("--out {}: cannot create the folder: {}", dir, ec.message()));
    files.output_folder("--out", dir);
    return dir;
}

std::string study_text(const StudyPage& page) {
    std::string s = page.title + "\n\n";
    for (const std::string& p : page.protocol) s += p + "\n";
    s += "\n" + page.table;
    if (!page.table.empty() && page.table.back() != '\n') s += "\n";
    if (!page.findings.empty())
        s += "\n" + page.findings + (page.findings.back() == '\n' ? "" : "\n");
    return s;
}

void write_study_page(const StudyPage& page, const std::string& dir) {
    write_file_atomically(dir + "/table.txt", study_text(page));
    auto paragraphs = [](const std::string& text) {
        std::string html;
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);)
            if (!line.empty()) html += "<p>" + html_escape(line) + "</p>\n";
        return html;
    };
    std::string html = fmt::format(
        R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>normgrad study: {0}</title>
<style>body{{font-family:sans-serif;max-width:1600px;margin:1em auto;color:#222}}
.charts{{display:flex;flex-wrap:wrap;gap:12px}} pre{{background:#f6f6f6;padding:8px;overflow:auto}}
.findings{{font-weight:bold}}</style>
</head><body>
<h1>{0}</h1>
<div class="findings">{1}</div>
<h2>Protocol</h2>
)",
        html_escape(page.title), paragraphs(page.findings));
    for (const std::string& p : page.protocol) html += "<p>" + html_escape(p) + "</p>\n";
    html += "<div class=\"charts\">\n";
    for (const auto& [id, svg] : page.charts) html += svg;
    html += "</div>\n<h2>Table</h2>\n<pre>" + html_escape(page.table) + "</pre>\n";
    html += "<pre id=\"render-check\">(the render check runs when the page has loaded)</pre>\n";
    html += kRenderCheck;
    html += "</body></html>\n";
    write_file_atomically(dir + "/report.html", html);
    write_chart_files(dir, page.charts);
}

void finish_study(const StudyPage& page, const std::string& csv, const std::string& dir) {
    fmt::print("{}", study_text(page));
    write_file_atomically(dir + "/results.csv", csv);
    write_study_page(page, dir);
    fmt::print("\nwrote {0}/table.txt, {0}/results.csv, {0}/report.html and the charts\n", dir);
}

}  // namespace normgrad::cli
