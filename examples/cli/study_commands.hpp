// The sub-commands of `normgrad study`, one file each (study_<name>_command.cpp).
#pragma once

#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace normgrad::cli {

// void add_study_depth(CLI::App& study, Command& command);

}  // namespace normgrad::cli
