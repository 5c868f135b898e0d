// Fuzz entry for the command line: parse_command_line (examples/cli/command_line.hpp), the
// program's own parse, whose outcome is checked but never run. It returns a command to run, or an
// exit status with what to print; no exception may leave it.
#include <fmt/format.h>

#include <sstream>
#include <string>
#include <vector>

#include "../examples/cli/command_line.hpp"
#include "fuzz_entry.hpp"

namespace normgrad::fuzz {

Outcome fuzz_cli(std::span<const uint8_t> input) {
    const std::string text(input.begin(), input.end());
    const char sep = text.find('\0') != std::string::npos ? '\0' : '\n';
    std::vector<std::string> args{"normgrad"};
    if (!text.empty()) {
        size_t start = 0;
        for (;;) {
            const size_t end = text.find(sep, start);
            args.push_back(text.substr(start, end - start));
            if (end == std::string::npos) break;
            start = end + 1;
        }
    }
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);

    std::ostringstream out, err;  // what main() prints for --help and --version
    const cli::ParsedCommandLine parsed =
        cli::parse_command_line(static_cast<int>(args.size()), argv.data(), out, err);
    if (parsed.run) {
        if (parsed.subcommand.empty() || !parsed.error.empty())
            throw FuzzInvariantError(
                "fuzz_cli: a command to run without a sub-command's name, "
                "or with an error");
        return Outcome::accepted;
    }
    if (parsed.error.empty()) {  // --help or --version: printed, status 0
        if (parsed.exit_status != 0)
            throw FuzzInvariantError(
                fmt::format("fuzz_cli: --help or --version exits with {}", parsed.exit_status));
        if (out.str().empty() && err.str().empty())
            throw FuzzInvariantError("fuzz_cli: --help or --version printed nothing");
        return Outcome::rejected;
    }
    // A usage error: status 2, and a message that names the help to read.
    if (parsed.exit_status != 2)
        throw FuzzInvariantError(
            fmt::format("fuzz_cli: a usage error exits with {}", parsed.exit_status));
    if (parsed.error.find("--help") == std::string::npos)
        throw FuzzInvariantError("fuzz_cli: a usage error's message names no help: " +
                                 parsed.error);
    return Outcome::rejected;
}

}  // namespace normgrad::fuzz
