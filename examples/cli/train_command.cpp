// normgrad train: train an MLP or a CNN on MNIST-format data.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/train/trainer.hpp"
#include "training_flags.hpp"

namespace normgrad::cli {

namespace {

int run_train(TrainingFlags& f) {
    finish_training_flags(f);
    auto& c = f.config;

    const auto [train_set, test_set] = load_splits(f.data_dir);
    Rng init_rng(c.seed);
    auto model = train::build_model(c.model, init_rng);
    fmt::print("normgrad train: {} with BatchNorm {}, {} on {} training / {} test images\n",
               c.model.kind, f.batchnorm, c.optimizer, train_set.count, test_set.count);
    fmt::print("{}\n", model->describe());

    const train::TrainResult r = train::train(c, *model, train_set, test_set);
    for (const auto& e : r.epochs)
        fmt::print(
            "epoch {}: train loss {:.4f}  test accuracy {:.2f}%  train time {:.2f} s ({:.0f} "
            "img/s)\n",
            e.epoch, e.train_loss, 100.0 * e.test_accuracy, e.train_seconds,
            double(std::min<int64_t>(e.steps * c.batch, train_set.count)) / e.train_seconds);
    if (!c.save_path.empty()) fmt::print("saved {}\n", c.save_path);
    if (!c.log_path.empty()) fmt::print("log {}\n", c.log_path);
    return 0;
}

}  // namespace

void add_train(CLI::App& app, Command& command) {
    auto f = std::make_shared<TrainingFlags>();
    CLI::App* sub = app.add_subcommand("train", "Train an MLP or a CNN on MNIST");
    add_training_flags(sub, *f, true);
    sub->add_option("--save", f->config.save_path,
                    "Write the trained model to this safetensors file");
    sub->add_option("--log", f->config.log_path,
                    "Write one JSON line per step and per epoch to this file");
    sub->callback([f, &command] { command.run = [f] { return run_train(*f); }; });
}

}  // namespace normgrad::cli
