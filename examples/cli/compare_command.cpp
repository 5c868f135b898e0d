// normgrad compare: variants of one model (BatchNorm off and on by default, or any
// normalisations: --variants none,batch,layer,group) trained side by side.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "commands.hpp"
#include "flags.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/compare.hpp"
#include "report.hpp"
#include "run_files.hpp"
#include "training_flags.hpp"

namespace normgrad::cli {

namespace {

// A preset is a set of flag values (applied only where the flag was not given) and a title.
struct Preset {
    std::string title;
    std::map<std::string, std::string> flags;
};

const std::map<std::string, Preset>& presets() {
    static const std::map<std::string, Preset> p{
        {"explode",
         {"A deep MLP (10 hidden layers of 256) with a poor initialisation, weights ~ N(0, 0.1^2), "
          "at an ordinary learning rate: without BatchNorm the activations and gradients grow "
          "layer by layer and training blows up; with BatchNorm every layer's input is "
          "renormalised and it trains.",
          {{"--model", "mlp"},
           {"--depth", "10"},
           {"--init", "normal"},
           {"--init-std", "0.1"},
           {"--lr", "0.05"},
           {"--momentum", "0.9"},
           {"--epochs", "1"}}}},
        {"speed",
         {"An MLP with 4 hidden ReLU layers, PyTorch's default initialisation and a cautious "
          "learning rate (0.01): both runs train, and BatchNorm mainly buys speed of convergence.",
          {{"--model", "mlp"},
           {"--depth", "4"},
           {"--lr", "0.01"},
           {"--momentum", "0.9"},
           {"--epochs", "1"}}}},
        {"high-lr",
         {"The standard MLP (784-256-256-10) at a learning rate ten times the usual one (0.5): "
          "BatchNorm's tolerance of a larger step.",
          {{"--model", "mlp"}, {"--lr", "0.5"}, {"--momentum", "0.9"}, {"--epochs", "1"}}}},
        {"cnn",
         {"The CNN with the accuracy protocol: both train; compare the per-layer gradients.",
          {{"--model", "cnn"}, {"--epochs", "1"}}}},
    };
    return p;
}

struct CompareFlags {
    TrainingFlags training;
    std::string preset;
    std::string out_dir;  // default: runs/compare/<preset>, or runs/compare/<model>-<variants>
    std::vector<int64_t> at_steps;
    int64_t eval_every = 0;
    std::vector<std::string> variants{"none", "batch"};
};

int run_compare(CompareFlags& f, CLI::App* sub) {
    std::string title = "normgrad compare";
    // What the user gave, before the preset fills in the rest.
    std::set<std::string> user_given;
    for (const CLI::Option* o : sub->get_options())
        if (o->count() > 0) user_given.insert(o->get_name());
    if (!f.preset.empty()) {
        const Preset& p = presets().at(f.preset);
        title = fmt::format("Preset '{}': {}", f.preset, p.title);
        // Re-parse the preset's values for the flags the user did not give.
        for (const auto& [flag, value] : p.flags) {
            CLI::Option* opt = sub->get_option(flag);
            if (opt->count() == 0) {
                opt->clear();
                opt->add_result(value);
                opt->run_callback();
            }
        }
    }
    finish_training_flags(f.training, [&](const std::string& n) {
        const CLI::Option* o = sub->get_option_no_throw(n);
        return o && user_given.count(o->get_name()) > 0;
    });
    if (f.out_dir.empty()) {
        // Each preset, and each model and set of variants, in a folder of its own.
        std::string name = f.preset;
        if (name.empty()) {
            name = f.training.config.model.kind;
            for (const std::string& v : f.variants) {
                name += "-" + v;
                name.erase(std::remove(name.begin(), name.end(), ':'), name.end());
            }
        }
        f.out_dir = "runs/compare/" + name;
        std::error_code ec;
        std::filesystem::create_directories(f.out_dir, ec);
        if (ec)
            throw UsageError(
                fmt::format("--out {}: cannot create the folder: {}", f.out_dir, ec.message()));
    }
    RunFiles files;
    files.data_folder("--data", f.training.data_dir);
    files.output_folder("--out", f.out_dir);
    files.check_and_lock();
    throw_if_stop_requested("starting: nothing was written");
    const Splits data = load_splits(f.training.data_dir);
    fit_model_to_data(f.training.config, data, f.training.data_dir);

    train::CompareConfig cc;
    cc.base = f.training.config;
    cc.base.log_path.clear();
    cc.base.checkpoint_path.clear();  // a comparison is not resumable: a stop ends it
    cc.eval_every = f.eval_every;
    cc.variants.clear();
    for (const std::string& v : f.variants) {
        try {
            cc.variants.push_back(train::parse_norm(v));
        } catch (const std::invalid_argument& e) {
            throw UsageError(fmt::format("--variants: {}", e.what()));
        }
        if (std::count(cc.variants.begin(), cc.variants.end(), cc.variants.back()) > 1)
            throw UsageError(fmt::format("--variants names {} twice", v));
        // Each variant must fit the images (GroupNorm's groups must divide the channels).
        train::TrainConfig one = f.training.config;
        one.model.norm = cc.variants.back();
        fit_model_to_data(one, data, f.training.data_dir);
    }
    cc.at_steps = f.at_steps.empty() ? std::vector<int64_t>{10, 100} : f.at_steps;
    cc.title = title;
    fmt::print("{}\n", title);
    train::CompareResult r;
    try {
        r = train::run_compare(cc, data.train, data.test);
    } catch (const train::SetupError& e) {
        throw UsageError(e.what());
    }
    if (r.interrupted) {
        fmt::print("interrupted by {}: the comparison is incomplete, nothing was written\n",
                   stop_reason());
        return 130;
    }

    const std::string csv = f.out_dir + "/steps.csv", html = f.out_dir + "/report.html";
    train::write_csv(r, csv);
    write_html(r, html);
    fmt::print("\n{}\n{}\nwrote {} and {} (charts also as {}/chart-*.svg)\n",
               train::format_table(r), train::verdict(r), csv, html, f.out_dir);
    return 0;
}

}  // namespace

void add_compare(CLI::App& app, Command& command) {
    auto f = std::make_shared<CompareFlags>();
    CLI::App* sub = app.add_subcommand(
        "compare",
        "Train variants of one model (BatchNorm off and on, or --variants) and compare them");
    FlagGroups groups;
    groups.norm = false;        // --variants
    groups.grad_stats = false;  // the comparison is made of them
    add_training_flags(sub, f->training, groups);
    std::vector<std::string> names;
    for (const auto& [name, p] : presets()) names.push_back(name);
    sub->add_option("--preset", f->preset,
                    "A ready-made experiment: explode, speed, high-lr or cnn (flags given "
                    "explicitly override the preset's)")
        ->check(CLI::IsMember(names));
    sub->add_option("--variants", f->variants,
                    "The normalisations to compare, each trained from the same initial weights "
                    "and data order: none, batch, layer, group, group:G, rms")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_option("--out", f->out_dir,
                    "Folder for steps.csv, report.html and the charts (default: "
                    "runs/compare/PRESET, or runs/compare/MODEL-VARIANTS)");
    add_int_list(sub, "--at", f->at_steps, 1, std::numeric_limits<int64_t>::max(),
                 "Steps shown in the table besides the first and last");
    add_int(sub, "--eval-every", f->eval_every, 0, std::numeric_limits<int64_t>::max(),
            "Test accuracy every N steps for the chart (0: about ten points)");
    sub->callback([f, sub, &command] { command.run = [f, sub] { return run_compare(*f, sub); }; });
}

}  // namespace normgrad::cli
