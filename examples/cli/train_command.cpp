// normgrad train: train an MLP or a CNN on MNIST-format data.
#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
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
    if (c.checkpoint_every < 0)
        throw UsageError(
            fmt::format("--checkpoint-every must be >= 0, got {}", c.checkpoint_every));

    const auto [train_set, test_set] = load_splits(f.data_dir);
    Rng init_rng(c.seed);
    auto model = train::build_model(c.model, init_rng);
    fmt::print("normgrad train: {} with BatchNorm {}, {} on {} training / {} test images\n",
               c.model.kind, f.batchnorm, c.optimizer, train_set.count, test_set.count);
    fmt::print("{}\n", model->describe());

    // SIGINT (Ctrl-C) finishes the current step, writes the checkpoint and stops.
    std::signal(SIGINT, [](int) { train::request_stop(); });
    // For tests: deliver a real SIGINT between two steps (NORMGRAD_TEST_SIGINT_AT_STEP=N).
    const char* sigint_at = std::getenv("NORMGRAD_TEST_SIGINT_AT_STEP");
    const int64_t sigint_step = sigint_at ? std::atoll(sigint_at) : 0;
    auto on_step = [sigint_step](const train::StepInfo& s) {
        if (s.step == sigint_step) std::raise(SIGINT);
    };
    const train::TrainResult r = train::train(c, *model, train_set, test_set, on_step);
    std::signal(SIGINT, SIG_DFL);
    if (r.interrupted) {
        fmt::print(
            "interrupted after step {}: checkpoint written to {}; continue with --resume {}\n",
            r.last_step, c.checkpoint_path, c.checkpoint_path);
        return 130;
    }
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
    sub->add_option("--checkpoint-every", f->config.checkpoint_every,
                    "Write a resumable checkpoint every N steps (0: only on Ctrl-C)")
        ->capture_default_str();
    sub->add_option("--checkpoint", f->config.checkpoint_path,
                    "Where resumable checkpoints go (model, optimizer, RNG state, position)")
        ->capture_default_str();
    sub->add_option(
        "--resume", f->config.resume_path,
        "Continue the run saved in this checkpoint (same model, batch, optimizer, seed)");
    sub->callback([f, &command] { command.run = [f] { return run_train(*f); }; });
}

}  // namespace normgrad::cli
