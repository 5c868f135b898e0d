// JSON text for the training log and the statistics: numbers and strings, written by hand
// because a step line holds about 60 numbers and is written every step.
#pragma once

#include <fmt/format.h>

#include <string>

namespace normgrad::train {

// A JSON number: finite values with full float precision, non-finite ones as null.
std::string json_number(double v);
// The same, appended to `out` (no temporary string: a step line holds about 60 numbers).
void append_json_number(fmt::memory_buffer& out, double v);
// A JSON string literal, escaped.
std::string json_string(const std::string& s);

}  // namespace normgrad::train
