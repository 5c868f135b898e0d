// The flags shared by `normgrad train` and `normgrad compare`.
#include "training_flags.hpp"

#include <fmt/format.h>

#include <cmath>

#include "commands.hpp"

namespace normgrad::cli {

namespace {

// Checks that CLI11's type checks cannot express, each a one-line usage error.
void validate(const TrainingFlags& f) {
    const auto& c = f.config;
    if (c.epochs < 1)
        throw UsageError(fmt::format("--epochs must be at least 1, got {}", c.epochs));
    if (c.batch < 1) throw UsageError(fmt::format("--batch must be at least 1, got {}", c.batch));
    if (!(c.lr > 0.f) || !std::isfinite(c.lr))
        throw UsageError(fmt::format("--lr must be a positive number, got {}", c.lr));
    if (!(c.momentum >= 0.f && c.momentum < 1.f))
        throw UsageError(fmt::format("--momentum must lie in [0, 1), got {}", c.momentum));
    if (!(c.weight_decay >= 0.f))
        throw UsageError(fmt::format("--weight-decay must be >= 0, got {}", c.weight_decay));
    if (c.threads < 1 || c.threads > 256)
        throw UsageError(fmt::format("--threads must lie in 1..256, got {}", c.threads));
    if (f.init == "normal" && !(f.init_std > 0.f))
        throw UsageError(fmt::format("--init-std must be positive, got {}", f.init_std));
    if (c.clip_norm < 0) throw UsageError(fmt::format("--clip must be >= 0, got {}", c.clip_norm));
    if (c.model.depth < 1 || c.model.depth > 1000)
        throw UsageError(fmt::format("--depth must lie in 1..1000, got {}", c.model.depth));
    if (c.model.hidden < 1 || c.model.hidden > 65536)
        throw UsageError(fmt::format("--hidden must lie in 1..65536, got {}", c.model.hidden));
}

}  // namespace

void add_training_flags(CLI::App* sub, TrainingFlags& f, bool with_batchnorm) {
    auto& c = f.config;
    sub->add_option("--model", c.model.kind, "mlp (784-256-256-10) or cnn")
        ->check(CLI::IsMember({"mlp", "cnn"}))
        ->capture_default_str();
    if (with_batchnorm)
        sub->add_option("--batchnorm", f.batchnorm, "BatchNorm after every hidden layer: on or off")
            ->check(CLI::IsMember({"on", "off"}))
            ->capture_default_str();
    sub->add_option("--epochs", c.epochs, "Passes over the training set")->capture_default_str();
    sub->add_option("--batch", c.batch, "Images per step")->capture_default_str();
    sub->add_option("--optimizer", c.optimizer, "sgd, adam or adamw")
        ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
        ->capture_default_str();
    sub->add_option("--lr", c.lr, "Learning rate")->capture_default_str();
    sub->add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
    sub->add_flag("--nesterov", c.nesterov, "Nesterov momentum (SGD)");
    sub->add_option("--weight-decay", c.weight_decay,
                    "Weight decay (L2 for sgd/adam, decoupled for adamw)")
        ->capture_default_str();
    sub->add_flag("!--decay-bias-norm,--no-decay-bias-norm", c.decay_bias_and_norm,
                  "Exclude biases and BatchNorm gamma/beta from weight decay");
    sub->add_option("--schedule", c.schedule, "Learning-rate schedule: constant, step or cosine")
        ->check(CLI::IsMember({"constant", "step", "cosine"}))
        ->capture_default_str();
    sub->add_option("--warmup", c.warmup_steps, "Linear warm-up steps")->capture_default_str();
    sub->add_option("--clip", c.clip_norm, "Clip the global gradient norm to this (0: off)")
        ->capture_default_str();
    sub->add_option("--seed", c.seed, "Seed for initialisation and data order")
        ->capture_default_str();
    sub->add_option("--threads", c.threads, "Threads for GEMM and normgrad's loops")
        ->capture_default_str();
    sub->add_option("--data", f.data_dir,
                    "Folder with the four MNIST-format IDX files (raw or .gz)")
        ->capture_default_str();
    sub->add_option("--hidden", c.model.hidden, "MLP: width of the hidden layers")
        ->capture_default_str();
    sub->add_option("--depth", c.model.depth, "MLP: number of hidden layers")
        ->capture_default_str();
    sub->add_option("--activation", f.activation, "relu, sigmoid or tanh")
        ->check(CLI::IsMember({"relu", "sigmoid", "tanh"}))
        ->capture_default_str();
    sub->add_option("--init", f.init, "Weight initialisation: pytorch (default) or normal")
        ->check(CLI::IsMember({"pytorch", "normal"}))
        ->capture_default_str();
    sub->add_option("--init-std", f.init_std, "Standard deviation for --init normal")
        ->capture_default_str();
    sub->add_option("--max-steps", c.max_steps, "Stop after this many steps (0: no limit)")
        ->capture_default_str();
    sub->add_flag("!--no-progress", c.progress, "Do not draw the progress bar");
    sub->add_option("--grad-stats", f.grad_stats,
                    "Per-layer gradient statistics in the log: on or off")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    sub->add_flag("--detect-anomaly", c.detect_anomaly,
                  "Stop at the first non-finite value in the forward or backward pass and name "
                  "the layer, operation, tensor, shape and step");
}

void finish_training_flags(TrainingFlags& f) {
    validate(f);
    auto& c = f.config;
    c.model.batchnorm = f.batchnorm == "on";
    c.grad_stats = f.grad_stats == "on";
    c.model.activation = train::parse_activation(f.activation);
    c.model.init = f.init == "normal" ? Init::normal(f.init_std) : Init::pytorch();
}

Splits load_splits(const std::string& dir) {
    try {
        return {load_mnist_split(dir, true), load_mnist_split(dir, false)};
    } catch (const DataError& e) {
        throw UsageError(e.what());
    }
}

}  // namespace normgrad::cli
