// The sub-commands of `normgrad study`, one file each (study_<name>_command.cpp), and the flags
// every study shares.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "commands.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::cli {

void add_study_depth(CLI::App& study, Command& command);
void add_study_batch_size(CLI::App& study, Command& command);
void add_study_lr(CLI::App& study, Command& command);
void add_study_ioffe_figure1(CLI::App& study, Command& command);

// --data, --threads, --seed, --out, --no-progress.
struct StudyFlags {
    std::string data_dir = "data/mnist";
    int threads = 1;
    uint64_t seed = 0;
    std::string out;  // empty: runs/study/<name>
    bool no_progress = false;
};
// with_data: --data too (a study of several data sets names its own flag).
void add_study_flags(CLI::App* sub, StudyFlags& f, bool with_data = true);

// Sets --threads and flushes denormal floats to zero on every thread (parallel.hpp): a study
// runs networks whose signal vanishes, which would otherwise spend most of their time on
// denormal arithmetic. kFlushNote says so in each study's protocol.
void start_study_threads(const StudyFlags& f);
extern const char* const kFlushNote;

// One line on standard error as each point of a study finishes (none with --no-progress).
void study_progress(const StudyFlags& f, const std::string& line);

// The test accuracy as the tables print it: "97.12%".
std::string percent(double fraction);

}  // namespace normgrad::cli
