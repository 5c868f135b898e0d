// normgrad study NAME: the BatchNorm lab's studies, one command each (docs/batchnorm.md §11).
// Each study states its protocol, prints a table and its findings, and writes table.txt,
// results.csv, report.html and its charts into --out (default runs/study/NAME): study_page.hpp.
#include "commands.hpp"
#include "study_commands.hpp"

namespace normgrad::cli {

void add_study(CLI::App& app, Command& /*command*/) {  // named once a study registers
    CLI::App* study = app.add_subcommand(
        "study", "The BatchNorm lab's studies: depth, batch-size, lr, ioffe-figure1");
    study->require_subcommand(1);
    // The studies register here: add_study_depth(*study, command); ... (none has landed yet, so
    // build_app does not call add_study: scripts/studies.sh waits for them too)
}

}  // namespace normgrad::cli
