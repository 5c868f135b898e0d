// The normgrad command-line program.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App app{"normgrad: a small deep-learning framework for studying BatchNorm"};
    app.set_version_flag("--version", std::string("normgrad ") + NORMGRAD_VERSION);
    app.require_subcommand(0, 1);
    app.add_subcommand("version", "Print the version")->callback([] {
        fmt::print("normgrad {}\n", NORMGRAD_VERSION);
    });
    CLI11_PARSE(app, argc, argv);
    if (app.get_subcommands().empty()) fmt::print("{}", app.help());
    return 0;
}
