#include "normgrad/train/json_text.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iterator>
#include <string_view>

namespace normgrad::train {

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
