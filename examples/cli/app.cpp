// The normgrad command line as one CLI::App, shared by main.cpp and the fuzz target
// (fuzz/fuzz_entry_cli.cpp), so the fuzzer parses exactly what the program parses.
#include <functional>
#include <string>

#include "commands.hpp"
#include "normgrad/cpu.hpp"

namespace normgrad::cli {

void build_app(CLI::App& app, Command& command) {
    app.description("normgrad: a small deep-learning framework for studying BatchNorm");
    // The second line says which code runs here: bench/bench.py records it with its figures.
    app.set_version_flag("--version", std::function<std::string()>([] {
                             return std::string("normgrad ") + NORMGRAD_VERSION + "\n" +
                                    normgrad::kernel_summary();
                         }));
    app.require_subcommand(1);
    add_train(app, command);
    add_eval(app, command);
    add_compare(app, command);
    add_gradnorms(app, command);
    add_recalibrate(app, command);
    add_fold(app, command);
    add_inspect(app, command);
    add_study(app, command);
}

}  // namespace normgrad::cli
