// How normgrad's flags are declared and their mistakes reported: one mechanism for all of them.
//
// Every numeric flag carries its range, checked while parsing (a value outside it, not a
// number, beyond the type's range or not finite is a usage error naming the flag and the range,
// exit status 2, before anything runs); the range appears in --help. A mistyped flag or
// sub-command gets the nearest correct one suggested, and every error points at the help of
// the sub-command it concerns.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace normgrad::cli {

// Integers in [lo, hi].
CLI::Option* add_int(CLI::App* sub, const std::string& name, int64_t& value, int64_t lo, int64_t hi,
                     const std::string& help);
CLI::Option* add_int(CLI::App* sub, const std::string& name, int& value, int64_t lo, int64_t hi,
                     const std::string& help);
// Any value of a 64-bit unsigned integer (seeds).
CLI::Option* add_uint64(CLI::App* sub, const std::string& name, uint64_t& value,
                        const std::string& help);
// Finite reals in [lo, hi], or (lo, hi] when lo_open, or [lo, hi) when hi_open.
struct RealRange {
    double lo, hi;
    bool lo_open = false, hi_open = false;
};
CLI::Option* add_real(CLI::App* sub, const std::string& name, float& value, RealRange range,
                      const std::string& help);
CLI::Option* add_real(CLI::App* sub, const std::string& name, double& value, RealRange range,
                      const std::string& help);
// A comma-separated list of integers in [lo, hi].
CLI::Option* add_int_list(CLI::App* sub, const std::string& name, std::vector<int64_t>& values,
                          int64_t lo, int64_t hi, const std::string& help);

// Whether the user gave `name` on the command line.
bool given(const CLI::App* sub, const std::string& name);

// The one-line message for a parse error, with a suggestion for a mistyped flag or
// sub-command and the help to read: "normgrad train: unknown flag --epoch: did you mean
// --epochs? (run 'normgrad train --help')".
std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e, int argc,
                                 const char* const* argv);

// The sub-command being run ("train"), or "" (for messages pointing at its --help).
std::string chosen_subcommand(const CLI::App& app);

}  // namespace normgrad::cli
