// The reliability cases: what normgrad does with bad input, damaged files, signals and odd
// flags, as commands run on a tiny generated data set. One table of cases serves both the tests
// (each case's exit status and message are checked) and docs/reliability.md (generated from the
// same runs by scripts/reliability-doc.sh; the tests fail when the document no longer matches
// what the commands give).
//
// Each case runs in a fresh folder holding `data/` (256 training and 64 test images of 28x28),
// with `normgrad` on the PATH; its command is shell text, so it can be pasted into a shell in
// such a folder. The message of a case is the first line of the output that contains its
// `expect` text, with the run-specific parts (pids, temporary folders, the machine's memory)
// replaced by placeholders, as are numbers that depend on rounding (`varies`).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cli_helpers.hpp"

namespace normgrad::testing {

struct ReliabilityCase {
    std::string title = "";  // what is tried, in words
    // Set-up in the case's folder: shell commands, or the words for `prepare`.
    std::string setup = "";
    std::string command = "";  // the command tried: "normgrad train --data data ..."
    int status = 0;            // the exit status it must give
    std::string expect = "";   // text the message must hold (the message is the line holding it)
    // Parts of the message that depend on rounding (a loss, the step a run diverges at, a
    // checksum of trained weights), which other kernels or CPUs may change: regular expression
    // and what the document shows instead.
    std::vector<std::pair<std::string, std::string>> varies = {};
    std::function<void()> prepare = {};  // set-up done in C++ (files shell cannot easily make)
    // How the command is run (default: to the end, output captured); for signals and
    // concurrent runs. Receives the command with the program's full path.
    std::function<Run(const std::string& command)> runner = {};
    std::string shown_runner = "";  // how the runner is described in the document
    // Further checks after the run, in the case's folder (files written, left alone, ...).
    std::function<void(const Run&)> verify = {};
};

// Runs every case of `group` and checks it; then checks that the group's section of
// docs/reliability.md is the table these runs give (or, with NORMGRAD_WRITE_RELIABILITY_DOC=1 in
// the environment, writes that section).
void check_reliability_group(const std::string& group, const std::string& heading,
                             const std::vector<ReliabilityCase>& cases);

// Runners for the cases that need more than one plain run.
// Starts the command, waits for `line` in its output, then sends `sig`.
std::function<Run(const std::string&)> signal_when(const std::string& line, int sig);

// A gzip data set large enough that loading it takes a while (about 0.2 s): for signals that
// must arrive while data is loaded. Written into `dir`.
void write_slow_data(const std::filesystem::path& dir);

}  // namespace normgrad::testing
