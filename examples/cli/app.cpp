// The normgrad command line as one CLI::App, and its parse (command_line.hpp), shared by
// main.cpp and the fuzz target (fuzz/fuzz_entry_cli.cpp), so the fuzzer parses exactly what the
// program parses.
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "command_line.hpp"
#include "commands.hpp"
#include "flags.hpp"
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

ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err) {
    // The App and the Command live as long as the command to run: the callbacks that set
    // command.run hold a reference to the Command, and compare's command reads the App.
    struct Parser {
        CLI::App app;
        Command command;
    };
    auto parser = std::make_shared<Parser>();
    build_app(parser->app, parser->command);
    ParsedCommandLine parsed;
    try {
        parser->app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        parsed.exit_status = parser->app.exit(e, out, err);  // --help, --version
        return parsed;
    } catch (const CLI::ParseError& e) {
        parsed.exit_status = 2;
        parsed.error = describe_parse_error(parser->app, e, argc, argv);
        parsed.subcommand = chosen_subcommand(parser->app);
        return parsed;
    }
    // require_subcommand(1): a parse that succeeds has chosen exactly one, whose callback set
    // command.run. Anything else is a bug here, not the user's mistake.
    if (parser->app.get_subcommands().size() != 1)
        throw std::logic_error("the command line parsed with " +
                               std::to_string(parser->app.get_subcommands().size()) +
                               " sub-commands chosen, not 1");
    parsed.subcommand = chosen_subcommand(parser->app);
    parsed.run = [parser] { return parser->command.run(); };
    return parsed;
}

}  // namespace normgrad::cli
