// The HTML report of `normgrad compare`: a self-contained page with SVG charts of both runs,
// each chart also written as its own SVG file beside the page (presentation, so it lives with the
// command line rather than in the training library).
#pragma once

#include <string>

#include "normgrad/train/compare.hpp"

namespace normgrad::cli {

void write_html(const train::CompareResult& r, const std::string& path);

}  // namespace normgrad::cli
