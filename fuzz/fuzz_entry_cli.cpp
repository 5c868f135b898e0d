// Fuzz entry for the command line: the program's own CLI::App (examples/cli/app.cpp), parsed
// but never run. main.cpp handles CLI::Success (--help, --version) and CLI::ParseError, so no
// other exception may leave parse.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "../examples/cli/commands.hpp"
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

    CLI::App app;
    cli::Command command;
    cli::build_app(app, command);
    try {
        app.parse(static_cast<int>(args.size()), argv.data());
    } catch (const CLI::Success& e) {
        std::ostringstream out, err;  // what main() prints for --help and --version
        if (app.exit(e, out, err) != 0) throw FuzzInvariantError("fuzz_cli: --help exit != 0");
        return Outcome::rejected;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            throw FuzzInvariantError(fmt::format("fuzz_cli: {} has exit code 0", e.get_name()));
        return Outcome::rejected;
    }
    // require_subcommand(1): a successful parse chose exactly one sub-command.
    if (app.get_subcommands().size() != 1)
        throw FuzzInvariantError(fmt::format("fuzz_cli: parse succeeded with {} sub-commands",
                                             app.get_subcommands().size()));
    return Outcome::accepted;
}

}  // namespace normgrad::fuzz
