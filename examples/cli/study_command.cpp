// normgrad study NAME: the BatchNorm lab's studies, one command each (docs/studies/).
// Each study states its protocol, prints a table and its findings, and writes table.txt,
// results.csv, report.html and its charts into --out (default runs/study/NAME): study_page.hpp.
#include <fmt/format.h>

#include "commands.hpp"
#include "flags.hpp"
#include "normgrad/parallel.hpp"
#include "study_commands.hpp"

namespace normgrad::cli {

void add_study_flags(CLI::App* sub, StudyFlags& f, bool with_data) {
    if (with_data)
        sub->add_option("--data", f.data_dir, "Folder of the MNIST-format data set")
            ->capture_default_str();
    add_int(sub, "--threads", f.threads, 1, 256, "Threads for GEMM and normgrad's loops");
    add_uint64(sub, "--seed", f.seed, "Seed of the initial weights and the data order");
    sub->add_option("--out", f.out,
                    "Folder for table.txt, results.csv, report.html and the charts (default: "
                    "runs/study/NAME)");
    sub->add_flag("--no-progress", f.no_progress, "No line per finished point on standard error");
}

void start_study_threads(const StudyFlags& f) {
    set_num_threads(f.threads);
    set_flush_denormals(true);
}

const char* const kFlushNote =
    "Denormal floats (below 1.2e-38) are flushed to zero, as torch.set_flush_denormal(True) "
    "does: the networks whose signal vanishes would otherwise run ten times slower.";

void study_progress(const StudyFlags& f, const std::string& line) {
    if (!f.no_progress) fmt::print(stderr, "{}\n", line);
}

std::string percent(double fraction) {
    return fmt::format("{:.2f}%", 100.0 * fraction);
}

void add_study(CLI::App& app, Command& command) {
    CLI::App* study = app.add_subcommand(
        "study", "The BatchNorm lab's studies: depth, batch-size, lr, ioffe-figure1");
    study->require_subcommand(1);
    add_study_depth(*study, command);
    add_study_batch_size(*study, command);
    add_study_lr(*study, command);
    add_study_ioffe_figure1(*study, command);
}

}  // namespace normgrad::cli
