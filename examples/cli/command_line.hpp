// The normgrad command line, parsed into what to do without running anything: shared by main.cpp
// and the CLI fuzz target (fuzz/fuzz_entry_cli.cpp), so that the fuzzer parses exactly what the
// program parses and handles the outcome as the program does.
//
// This header does not include CLI11. CLI11 is header-only, and every file that includes it
// compiles its code again (about 3 s a file at -O3, most of it the constructors of CLI11's
// global validator objects), so only the files that declare flags include it.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace normgrad::cli {

struct ParsedCommandLine {
    // The chosen sub-command, ready to run; empty when the command line asks for nothing to run.
    // It holds the parser, which a sub-command may read while it runs (compare asks it which
    // flags were given).
    std::function<int()> run;
    // Without `run`: the status to exit with, 0 after --help or --version (printed to the
    // streams given to parse_command_line), 2 for a usage error.
    int exit_status = 0;
    // A usage error's message, one line naming the flag or sub-command and the help to read:
    // "normgrad train: unknown flag --epoch: did you mean --epochs? (run 'normgrad train
    // --help')". Empty otherwise.
    std::string error;
    // The sub-command chosen ("train"), or "" when none was recognised.
    std::string subcommand;
};

ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err);

}  // namespace normgrad::cli
