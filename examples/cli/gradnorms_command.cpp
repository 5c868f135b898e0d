// normgrad gradnorms: at initialisation, how the weight-gradient norm changes from the output
// layer to the input layer, for MLPs of growing depth (or any --arch model), with each
// normalisation of --variants (no normalisation and BatchNorm by default).
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
    std::vector<std::string> variants{"none", "batch"};
    int batches = 5;
    bool fixed_batch = false;
    CLI::App* sub = nullptr;
    bool per_layer = false;
};

int run_gradnorms(GradnormsFlags& f) {
    auto given_flag = [&](const std::string& n) { return given(f.sub, n); };
    finish_training_flags(f.training, given_flag);
    auto& c = f.training.config;
    if (!train::sized_by_depth(c.model) && given_flag("--depths"))
        throw UsageError(
            fmt::format("--depths sweeps the mlp's depth; the {} has the depth its spec gives",
                        c.model.kind == "arch" ? "--arch model" : c.model.kind));
    const std::vector<train::Norm> norms = parse_norms("--variants", f.variants);
    RunFiles files;
    files.data_folder("--data", f.training.data_dir);
    files.check_and_lock();
    const auto splits = load_splits(f.training.data_dir);
    for (const train::Norm& n : norms) {
        c.model.norm = n;
        for (const int64_t d : f.depths) {
            c.model.depth = static_cast<int>(d);  // the largest decides whether it fits
            fit_model_to_data(c, splits, f.training.data_dir);
        }
    }
    const std::vector<int> depths(f.depths.begin(), f.depths.end());
    train::SweepData how{c.batch, f.batches, c.seed, f.fixed_batch};
    const auto points = train::depth_sweep(c.model, depths, norms, splits.train, how);
    throw_if_stop_requested("sweeping the depths");

    const bool mlp = train::sized_by_depth(c.model);
    fmt::print("{}, activation {}, init {}, input {}, at initialisation (no update).\n",
               mlp ? fmt::format("{} of width {}", c.model.kind == "mlp" ? "MLP" : "residual MLP",
                                 c.model.hidden)
                   : fmt::format("model {}", train::spec_text(c.model)),
               train::to_string(c.model.activation), train::to_string(c.model.init),
               train::to_string(c.model.input));
    fmt::print(
        "Gradients of the training-mode loss (mean cross-entropy) on {} batch{} of {} "
        "training images ({}), averaged.\n",
        f.batches, f.batches == 1 ? "" : "es", std::min<int64_t>(c.batch, splits.train.count),
        f.fixed_batch ? "in file order: images 0, 1, 2, ..."
                      : fmt::format("in the order of epoch 1 of --seed {}", c.seed));
    fmt::print(
        "ratio = ||dL/dW|| of the first weight layer (the input side) / ||dL/dW|| of the "
        "last (the output layer), L2 norms over all of each weight, 4 significant "
        "digits\n\n");
    fmt::print("{:>6}", mlp ? "depth" : "");
    for (const auto& n : norms) fmt::print(" {:>20}", train::describe(n));
    fmt::print("\n");
    for (size_t i = 0; i + norms.size() <= points.size(); i += norms.size()) {
        if (mlp)
            fmt::print("{:>6}", points[i].depth);
        else
            fmt::print("{:>6}", "");
        for (size_t k = 0; k < norms.size(); ++k)
            fmt::print(" {:>20.4g}", points[i + k].first_over_last());
        fmt::print("\n");
    }
    if (f.per_layer) {
        fmt::print("\nper weight layer, input side first (||dL/dW||):\n");
        for (const auto& p : points) {
            fmt::print("{}{}:", mlp ? fmt::format("depth {:>3} ", p.depth) : "",
                       train::describe(p.norm));
            for (size_t k = 0; k < p.layers.size(); ++k)
                fmt::print(" {}{:.3g}", mlp ? "" : p.layers[k] + " ", p.weight_grad_norms[k]);
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
        "Gradient norms at initialisation: the first layer's over the last's, by depth and "
        "normalisation");
    f->sub = sub;
    FlagGroups groups;
    groups.norm = false;       // --variants, side by side
    groups.depth = false;      // --depths
    groups.optimizer = false;  // nothing is trained
    groups.schedule = false;
    groups.grad_stats = false;
    add_training_flags(sub, f->training, groups);
    add_int_list(sub, "--depths", f->depths, 1, 1000, "Hidden-layer counts to sweep")
        ->capture_default_str();
    sub->add_option("--variants", f->variants,
                    "The normalisations, side by side: none, batch, layer, group, group:G, rms")
        ->delimiter(',')
        ->capture_default_str();
    add_int(sub, "--batches", f->batches, 1, 1000, "Batches to average over");
    sub->add_flag("--fixed-batch", f->fixed_batch,
                  "Take the images in file order (the first --batch images, then the next), not "
                  "in the shuffled order of --seed: numbers any framework can reproduce");
    sub->add_flag("--per-layer", f->per_layer,
                  "Also print every weight layer's gradient norm (Dense and Conv2d)");
    sub->callback([f, &command] { command.run = [f] { return run_gradnorms(*f); }; });
}

}  // namespace normgrad::cli
