// The normgrad command-line program: train, eval.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.hpp"

int main(int argc, char** argv) {
    CLI::App app;
    normgrad::cli::Command command;
    normgrad::cli::build_app(app, command);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        // One line, naming the flag and what was expected; exit status 2 as for any usage error.
        std::string what = e.what();
        if (what.empty()) what = "invalid command line";
        fmt::print(stderr, "normgrad: {} (run 'normgrad --help')\n", what);
        return 2;
    }
    try {
        return command.run();
    } catch (const normgrad::cli::UsageError& e) {
        std::fflush(stdout);
        fmt::print(stderr, "normgrad: {}\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        fmt::print(stderr, "normgrad: error: {}\n", e.what());
        return 1;
    }
}
