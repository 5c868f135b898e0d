#include "flags.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace normgrad::cli {

namespace {

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::string range_text(int64_t lo, int64_t hi) {
    if (hi == std::numeric_limits<int64_t>::max()) return fmt::format(">= {}", lo);
    return fmt::format("in {}..{}", lo, hi);
}

// "" when `text` is an integer in [lo, hi], else what is wrong with it.
std::string check_int(const std::string& text, int64_t lo, int64_t hi) {
    const std::string t = trim(text);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    const bool whole = !t.empty() && end == t.data() + t.size();
    if (whole && ec == std::errc() && v >= lo && v <= hi) return "";
    if (whole || ec == std::errc::result_out_of_range)
        return fmt::format("{} is not an integer {}", t, range_text(lo, hi));
    return fmt::format("'{}' is not an integer (expected an integer {})", text, range_text(lo, hi));
}

std::string real_range_text(const RealRange& r) {
    const bool no_hi = std::isinf(r.hi);
    if (no_hi) return fmt::format("{} {}", r.lo_open ? ">" : ">=", r.lo);
    return fmt::format("in {}{}, {}{}", r.lo_open ? "(" : "[", r.lo, r.hi, r.hi_open ? ")" : "]");
}

std::string check_real(const std::string& text, const RealRange& r) {
    const std::string t = trim(text);
    double v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || end != t.data() + t.size() || ec == std::errc::invalid_argument)
        return fmt::format("'{}' is not a number (expected a number {})", text, real_range_text(r));
    if (ec == std::errc::result_out_of_range || !std::isfinite(v))
        return fmt::format("{} is not a finite number (expected a number {})", t,
                           real_range_text(r));
    const bool low = r.lo_open ? !(v > r.lo) : !(v >= r.lo);
    const bool high = r.hi_open ? !(v < r.hi) : !(v <= r.hi);
    if (low || high) return fmt::format("{} is not {}", t, real_range_text(r));
    return "";
}

template <class T>
CLI::Option* add_int_impl(CLI::App* sub, const std::string& name, T& value, int64_t lo, int64_t hi,
                          const std::string& help) {
    return sub->add_option(name, value, help)
        ->check(CLI::Validator([lo, hi](std::string& s) { return check_int(s, lo, hi); },
                               range_text(lo, hi)))
        ->type_name("INT")
        ->capture_default_str();
}

template <class T>
CLI::Option* add_real_impl(CLI::App* sub, const std::string& name, T& value, RealRange r,
                           const std::string& help) {
    return sub->add_option(name, value, help)
        ->check(
            CLI::Validator([r](std::string& s) { return check_real(s, r); }, real_range_text(r)))
        ->type_name("NUMBER")
        ->capture_default_str();
}

// Levenshtein distance, for suggestions.
size_t distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

// The candidate nearest to `word` (a prefix of it counts as near), or "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_d = std::numeric_limits<size_t>::max();
    for (const auto& c : candidates) {
        size_t d = distance(word, c);
        if (c.rfind(word, 0) == 0 && word.size() >= 3) d = std::min<size_t>(d, 1);
        if (d < best_d) best_d = d, best = c;
    }
    const size_t limit = std::max<size_t>(2, word.size() / 3);
    return best_d <= limit ? best : "";
}

std::vector<std::string> long_names(const CLI::App* sub) {
    std::vector<std::string> names;
    for (const CLI::Option* o : sub->get_options())
        for (const std::string& n : o->get_lnames()) names.push_back("--" + n);
    return names;
}

}  // namespace

CLI::Option* add_int(CLI::App* sub, const std::string& name, int64_t& value, int64_t lo, int64_t hi,
                     const std::string& help) {
    return add_int_impl(sub, name, value, lo, hi, help);
}

CLI::Option* add_int(CLI::App* sub, const std::string& name, int& value, int64_t lo, int64_t hi,
                     const std::string& help) {
    return add_int_impl(sub, name, value, lo, hi, help);
}

CLI::Option* add_uint64(CLI::App* sub, const std::string& name, uint64_t& value,
                        const std::string& help) {
    auto check = [](std::string& s) -> std::string {
        const std::string t = trim(s);
        uint64_t v = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec == std::errc::result_out_of_range)
            return fmt::format("{} is too large (expected an integer in 0..{})", t,
                               std::numeric_limits<uint64_t>::max());
        if (t.empty() || end != t.data() + t.size() || ec != std::errc())
            return fmt::format("'{}' is not an integer (expected 0..{})", s,
                               std::numeric_limits<uint64_t>::max());
        return "";
    };
    return sub->add_option(name, value, help)
        ->check(CLI::Validator(check, "0..2^64-1"))
        ->type_name("INT")
        ->capture_default_str();
}

CLI::Option* add_real(CLI::App* sub, const std::string& name, float& value, RealRange range,
                      const std::string& help) {
    return add_real_impl(sub, name, value, range, help);
}

CLI::Option* add_real(CLI::App* sub, const std::string& name, double& value, RealRange range,
                      const std::string& help) {
    return add_real_impl(sub, name, value, range, help);
}

CLI::Option* add_int_list(CLI::App* sub, const std::string& name, std::vector<int64_t>& values,
                          int64_t lo, int64_t hi, const std::string& help) {
    return sub->add_option(name, values, help)
        ->delimiter(',')
        ->check(CLI::Validator([lo, hi](std::string& s) { return check_int(s, lo, hi); },
                               range_text(lo, hi)))
        ->type_name("INT,...");
}

bool given(const CLI::App* sub, const std::string& name) {
    const CLI::Option* o = sub->get_option_no_throw(name);
    return o && o->count() > 0;
}

std::string chosen_subcommand(const CLI::App& app) {
    const auto subs = app.get_subcommands();
    return subs.empty() ? "" : subs.front()->get_name();
}

std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e, int argc,
                                 const char* const* argv) {
    const std::string sub_name = chosen_subcommand(app);
    const std::string who = sub_name.empty() ? "normgrad" : "normgrad " + sub_name;
    const std::string help = fmt::format("(run '{} --help')", who);
    std::string what = e.what();
    if (what.empty()) what = "invalid command line";

    if (dynamic_cast<const CLI::ExtrasError*>(&e) || sub_name.empty()) {
        if (sub_name.empty()) {
            // No sub-command recognised: the first word that is not a flag was meant as one.
            std::vector<std::string> commands;
            for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; }))
                commands.push_back(s->get_name());
            for (int i = 1; i < argc; ++i) {
                const std::string a = argv[i];
                if (a.empty() || a[0] == '-') continue;
                const std::string guess = nearest(a, commands);
                return guess.empty()
                           ? fmt::format("normgrad: unknown command '{}' (expected one of: {}) {}",
                                         a, fmt::join(commands, ", "), help)
                           : fmt::format("normgrad: unknown command '{}': did you mean '{}'? {}", a,
                                         guess, help);
            }
            if (dynamic_cast<const CLI::RequiredError*>(&e))
                return fmt::format("normgrad: a command is required ({}) {}",
                                   fmt::join(commands, ", "), help);
        } else {
            const CLI::App* sub = app.get_subcommand(sub_name);
            const auto names = long_names(sub);
            for (int i = 1; i < argc; ++i) {
                std::string a = argv[i];
                if (a.rfind("--", 0) != 0 || a == "--") continue;
                if (const size_t eq = a.find('='); eq != std::string::npos) a.resize(eq);
                if (sub->get_option_no_throw(a) || app.get_option_no_throw(a)) continue;
                const std::string guess = nearest(a, names);
                return guess.empty() ? fmt::format("{}: unknown flag {} {}", who, a, help)
                                     : fmt::format("{}: unknown flag {}: did you mean {}? {}", who,
                                                   a, guess, help);
            }
        }
    }
    return fmt::format("{}: {} {}", who, what, help);
}

}  // namespace normgrad::cli
