// What every `normgrad study NAME` writes, in one folder (default runs/study/NAME):
//   table.txt    the table the terminal showed, with the protocol and the findings above it
//   results.csv  the study's numbers, one row per measured point (written by the study)
//   report.html  the protocol, the findings, the charts and the table, self-contained
//   chart-*.svg  each chart on its own, for documents
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "run_files.hpp"

namespace normgrad::cli {

struct StudyPage {
    std::string title;                  // "Depth: gradients at initialisation and accuracy"
    std::vector<std::string> protocol;  // what was run, one paragraph each (plain text)
    std::string findings;               // sentences built from the study's own numbers
    std::string table;                  // the terminal table (monospace)
    std::vector<std::pair<std::string, std::string>> charts;  // id, svg (svg_chart.hpp)
};

// `out` is the --out value, or empty for runs/study/<name>; the folder is created (with its
// parents) and registered with `files` as the --out output folder. Returns the folder.
std::string study_folder(const std::string& out, const std::string& name, RunFiles& files);

// The protocol, findings and table as the terminal shows them.
std::string study_text(const StudyPage& page);
// Writes table.txt (study_text), report.html and the chart files into `dir`, each atomically.
void write_study_page(const StudyPage& page, const std::string& dir);
// What every study ends with: the page printed, results.csv (`csv`) and the page written into
// `dir`, and where they went.
void finish_study(const StudyPage& page, const std::string& csv, const std::string& dir);

}  // namespace normgrad::cli
