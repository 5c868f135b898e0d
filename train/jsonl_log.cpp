#include "normgrad/train/jsonl_log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string_view>

namespace normgrad::train {

JsonlLog::JsonlLog(const std::string& path) : path_(path), tmp_(path + ".tmp") {
    if (path.empty()) return;
    file_ = std::fopen(tmp_.c_str(), "w");
    if (!file_)
        throw std::runtime_error(
            fmt::format("{}: cannot open the log for writing: {}", tmp_, std::strerror(errno)));
}

JsonlLog::~JsonlLog() {
    if (file_) std::fclose(file_);
}

void JsonlLog::line(const std::string& json) {
    if (!file_) return;
    if (std::fputs(json.c_str(), file_) < 0 || std::fputc('\n', file_) == EOF)
        throw std::runtime_error(fmt::format("{}: write failed: {}", tmp_, std::strerror(errno)));
}

void JsonlLog::close() {
    if (!file_) return;
    const bool ok = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
    std::fclose(file_);
    file_ = nullptr;
    if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0)
        throw std::runtime_error(
            fmt::format("{}: cannot finish the log: {}", path_, std::strerror(errno)));
}

std::string json_number(double v) {
    fmt::memory_buffer out;
    append_json_number(out, v);
    return fmt::to_string(out);
}

void append_json_number(fmt::memory_buffer& out, double v) {
    if (std::isfinite(v))
        fmt::format_to(std::back_inserter(out), "{:.9g}", v);
    else
        out.append(std::string_view("null"));
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20)
                    out += fmt::format("\\u{:04x}", c);
                else
                    out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

}  // namespace normgrad::train
