// Fixture reader (see fixture.hpp). A plain library file: no test cases, no main.
#include "fixture.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>

#ifndef NORMGRAD_FIXTURE_DIR
#error "NORMGRAD_FIXTURE_DIR must be defined (tests/CMakeLists.txt sets it)"
#endif

namespace normgrad::testing {
namespace {

std::vector<std::string_view> split_ws(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

bool is_skippable(std::string_view line) {
    auto tokens = split_ws(line);
    return tokens.empty() || tokens.front().front() == '#';
}

[[noreturn]] void fail(const std::string& path, size_t line_no, const std::string& what) {
    throw std::runtime_error("fixture " + path + ":" + std::to_string(line_no) + ": " + what);
}

template <typename T>
bool parse_number(std::string_view token, T& out) {
    const char* first = token.data();
    const char* last = token.data() + token.size();
    if (first != last && *first == '+') ++first;  // from_chars rejects a leading '+'
    auto [ptr, ec] = std::from_chars(first, last, out);
    return ec == std::errc{} && ptr == last;
}

}  // namespace

Fixture::Fixture(const std::string& file_name_in_fixture_dir) {
    parse(std::string(NORMGRAD_FIXTURE_DIR) + "/" + file_name_in_fixture_dir);
}

Fixture Fixture::load_path(const std::string& path) {
    Fixture f;
    f.parse(path);
    return f;
}

void Fixture::parse(const std::string& path) {
    path_ = path;
    tensors_.clear();
    std::ifstream in(path);
    if (!in) throw std::runtime_error("fixture " + path + ": cannot open file");

    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (is_skippable(line)) continue;
        auto head = split_ws(line);
        if (head[0] != "tensor") fail(path, line_no, "expected 'tensor <name> <rank> <dims...>'");
        if (head.size() < 3) fail(path, line_no, "tensor header needs a name and a rank");
        std::string name(head[1]);
        int rank = -1;
        if (!parse_number(head[2], rank) || rank < 0)
            fail(path, line_no, "bad rank '" + std::string(head[2]) + "' for " + name);
        if (head.size() != static_cast<size_t>(3 + rank))
            fail(path, line_no,
                 name + ": rank " + std::to_string(rank) + " but " +
                     std::to_string(head.size() - 3) + " dimensions given");
        if (tensors_.count(name)) fail(path, line_no, "duplicate tensor name " + name);

        FixtureTensor t;
        int64_t count = 1;
        for (int i = 0; i < rank; ++i) {
            int64_t d = -1;
            if (!parse_number(head[3 + i], d) || d < 0)
                fail(path, line_no, name + ": bad dimension '" + std::string(head[3 + i]) + "'");
            t.dims.push_back(d);
            count *= d;
        }

        const size_t header_line = line_no;
        if (!std::getline(in, line))
            fail(path, header_line, name + ": missing the values line after the header");
        ++line_no;
        auto tokens = split_ws(line);
        if (!tokens.empty() && tokens.front().front() == '#')
            fail(path, line_no, name + ": expected the values line, found a comment");
        if (static_cast<int64_t>(tokens.size()) != count)
            fail(path, line_no,
                 name + ": expected " + std::to_string(count) + " values, found " +
                     std::to_string(tokens.size()));
        t.values.reserve(tokens.size());
        for (auto tok : tokens) {
            float v = 0.f;
            if (!parse_number(tok, v))
                fail(path, line_no, name + ": bad value '" + std::string(tok) + "'");
            t.values.push_back(v);
        }
        tensors_.emplace(std::move(name), std::move(t));
    }
    if (in.bad()) throw std::runtime_error("fixture " + path + ": read error");
}

const FixtureTensor& Fixture::get(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end())
        throw std::runtime_error("fixture " + path_ + ": no tensor named '" + name + "'");
    return it->second;
}

bool Fixture::has(const std::string& name) const {
    return tensors_.count(name) != 0;
}

std::vector<std::string> Fixture::names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& kv : tensors_) out.push_back(kv.first);
    return out;
}

CloseResult compare_close(const std::vector<float>& actual, const std::vector<float>& expected,
                          double rtol) {
    CloseResult r;
    if (actual.size() != expected.size()) {
        r.ok = false;
        r.report = "size mismatch: actual " + std::to_string(actual.size()) + " values, expected " +
                   std::to_string(expected.size());
        return r;
    }
    size_t worst = 0;
    double worst_ratio = -1.0;  // |a - b| / (rtol * max(1, |b|)); > 1 fails; NaN fails
    size_t failures = 0;
    for (size_t i = 0; i < actual.size(); ++i) {
        const double a = actual[i];
        const double b = expected[i];
        const double tol = rtol * std::max(1.0, std::fabs(b));
        double ratio = std::fabs(a - b) / tol;
        if (std::isnan(ratio)) ratio = (std::isnan(a) && std::isnan(b)) ? 0.0 : INFINITY;
        if (a == b) ratio = 0.0;  // equal infinities
        if (ratio > 1.0) ++failures;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            worst = i;
        }
    }
    if (failures == 0) return r;
    r.ok = false;
    std::ostringstream os;
    os.precision(9);
    os << failures << " of " << actual.size() << " elements differ; worst at flat index " << worst
       << ": actual " << actual[worst] << ", expected " << expected[worst] << ", |diff| "
       << std::fabs(static_cast<double>(actual[worst]) - expected[worst]) << " > tolerance "
       << rtol * std::max(1.0, std::fabs(static_cast<double>(expected[worst])));
    r.report = os.str();
    return r;
}

}  // namespace normgrad::testing
