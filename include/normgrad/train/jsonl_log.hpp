// A JSON-lines log that appears under its final name only when complete: lines go to
// "<path>.tmp" and close() renames it to <path>.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>

namespace normgrad::train {

class JsonlLog {
  public:
    JsonlLog() = default;
    explicit JsonlLog(const std::string& path);  // empty path: a log that writes nothing
    ~JsonlLog();                                 // an unclosed log leaves only the temporary
    JsonlLog(const JsonlLog&) = delete;
    JsonlLog& operator=(const JsonlLog&) = delete;

    bool enabled() const { return file_ != nullptr; }
    void line(const std::string& json);  // one JSON object, without the newline
    void close();                        // flush, sync and rename into place

  private:
    std::string path_, tmp_;
    std::FILE* file_ = nullptr;
};

// A JSON number: finite values with full float precision, non-finite ones as null.
std::string json_number(double v);
// The same, appended to `out` (no temporary string: a step line holds about 60 numbers).
void append_json_number(fmt::memory_buffer& out, double v);
// A JSON string literal, escaped.
std::string json_string(const std::string& s);

}  // namespace normgrad::train
