// Sub-commands of the normgrad program. Each add_* registers its flags and sets the command to
// run when its sub-command is chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "usage_error.hpp"

namespace normgrad::cli {

struct Command {
    std::function<int()> run = [] { return 0; };
};

void add_train(CLI::App& app, Command& command);
void add_eval(CLI::App& app, Command& command);
void add_compare(CLI::App& app, Command& command);
void add_gradnorms(CLI::App& app, Command& command);
void add_recalibrate(CLI::App& app, Command& command);
void add_fold(CLI::App& app, Command& command);
void add_inspect(CLI::App& app, Command& command);
void add_study(CLI::App& app, Command& command);  // study_command.cpp

// The whole program's command line: --version, exactly one sub-command, and every sub-command
// above. Parsing only records the chosen command (callbacks set `command.run`); nothing runs.
// (parse_command_line, command_line.hpp, builds it and parses.)
void build_app(CLI::App& app, Command& command);

}  // namespace normgrad::cli
