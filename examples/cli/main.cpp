// The normgrad command-line program: train, eval, compare, gradnorms, recalibrate, fold.
//
// Exit status: 0 done; 1 failed while working (a damaged file, a diverged run, out of memory);
// 2 refused before any work (a flag, a path, a data set or a checkpoint that does not fit);
// 130 stopped by SIGINT, SIGTERM or SIGHUP (before the first training step: nothing written;
// after it: a checkpoint to resume from).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>

#include "commands.hpp"
#include "flags.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/files.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/storage.hpp"

int main(int argc, char** argv) {
    normgrad::install_stop_handlers();
    CLI::App app;
    normgrad::cli::Command command;
    normgrad::cli::build_app(app, command);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "{}\n", normgrad::cli::describe_parse_error(app, e, argc, argv));
        return 2;
    }
    const std::string who = "normgrad " + normgrad::cli::chosen_subcommand(app);
    auto report = [&](const std::string& message, int status) {
        std::fflush(stdout);
        fmt::print(stderr, "{}: {}\n", who, message);
        return status;
    };
    try {
        return command.run();
    } catch (const normgrad::cli::UsageError& e) {
        return report(e.what(), 2);
    } catch (const normgrad::StopRequested& e) {
        return report(e.what(), 130);
    } catch (const std::bad_alloc& e) {
        const std::string where = normgrad::failed_activity();
        const auto* oom = dynamic_cast<const normgrad::OutOfMemory*>(&e);
        return report(fmt::format("out of memory while {}{}", where.empty() ? "running" : where,
                                  oom ? fmt::format(" ({})", oom->what()) : ""),
                      1);
    } catch (const std::exception& e) {
        return report(fmt::format("error: {}", e.what()), 1);
    }
}
