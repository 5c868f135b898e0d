// normgrad gradnorms: at initialisation, how the weight-gradient norm changes from the output
// layer to the input layer, for MLPs of growing depth, with and without BatchNorm.
#include <fmt/format.h>

#include <memory>

#include "commands.hpp"
#include "flags.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/depth_sweep.hpp"
#include "run_files.hpp"
#include "training_flags.hpp"

namespace normgrad::cli {

namespace {

struct GradnormsFlags {
    TrainingFlags training;
    std::vector<int64_t> depths{2, 4, 8, 16, 32};
    int batches = 5;
    CLI::App* sub = nullptr;
    bool per_layer = false;
};

int run_gradnorms(GradnormsFlags& f) {
    finish_training_flags(f.training, [&](const std::string& n) { return given(f.sub, n); });
    RunFiles files;
    files.data_folder("--data", f.training.data_dir);
    files.check_and_lock();
    auto& c = f.training.config;
    const auto splits = load_splits(f.training.data_dir);
    for (const int64_t d : f.depths) {
        c.model.depth = static_cast<int>(d);  // the largest decides whether it fits
        fit_model_to_data(c, splits, f.training.data_dir);
    }
    const std::vector<int> depths(f.depths.begin(), f.depths.end());
    const auto points =
        train::depth_sweep(c.model, depths, splits.train, c.batch, f.batches, c.seed);
    throw_if_stop_requested("sweeping the depths");

    fmt::print(
        "MLP of width {}, activation {}, init {}, batch {}, mean over {} batches, at "
        "initialisation (no update).\n",
        c.model.hidden, train::to_string(c.model.activation),
        c.model.init.kind == Init::Kind::Normal ? fmt::format("normal(std {})", c.model.init.std)
                                                : "pytorch",
        c.batch, f.batches);
    fmt::print("ratio = ||dL/dW|| of the first hidden layer / ||dL/dW|| of the output layer\n\n");
    fmt::print("{:>6} {:>16} {:>16}\n", "depth", "BatchNorm off", "BatchNorm on");
    for (size_t i = 0; i + 1 < points.size(); i += 2)
        fmt::print("{:>6} {:>16.4g} {:>16.4g}\n", points[i].depth, points[i].first_over_last(),
                   points[i + 1].first_over_last());
    if (f.per_layer) {
        fmt::print("\nper Dense layer, input side first:\n");
        for (const auto& p : points) {
            fmt::print("depth {:>3} BatchNorm {:<3}:", p.depth, p.batchnorm ? "on" : "off");
            for (double g : p.dense_grad_norms) fmt::print(" {:.3g}", g);
            fmt::print("\n");
        }
    }
    return 0;
}

}  // namespace

void add_gradnorms(CLI::App& app, Command& command) {
    auto f = std::make_shared<GradnormsFlags>();
    CLI::App* sub = app.add_subcommand(
        "gradnorms",
        "Depth sweep at initialisation: gradient norm of the first layer over the last");
    f->sub = sub;
    FlagGroups groups;
    groups.model_kind = false;  // the sweep is of MLPs
    groups.batchnorm = false;   // with and without, side by side
    groups.depth = false;       // --depths
    groups.optimizer = false;   // nothing is trained
    groups.schedule = false;
    groups.grad_stats = false;
    add_training_flags(sub, f->training, groups);
    add_int_list(sub, "--depths", f->depths, 1, 1000, "Hidden-layer counts to sweep")
        ->capture_default_str();
    add_int(sub, "--batches", f->batches, 1, 1000, "Batches to average over");
    sub->add_flag("--per-layer", f->per_layer, "Also print every Dense layer's gradient norm");
    sub->callback([f, &command] { command.run = [f] { return run_gradnorms(*f); }; });
}

}  // namespace normgrad::cli
