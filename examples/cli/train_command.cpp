// normgrad train: train an MLP or a CNN on MNIST-format data.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::cli {

namespace {

struct TrainFlags {
    train::TrainConfig config;
    std::string batchnorm = "off";
    std::string activation = "relu";
    std::string init = "pytorch";
    float init_std = 0.01f;
    std::string data_dir = "data/mnist";
    std::string grad_stats = "on";
};

// Checks that CLI11's type checks cannot express, each a one-line usage error.
void validate(const TrainFlags& f) {
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

int run_train(TrainFlags& f) {
    validate(f);
    auto& c = f.config;
    c.model.batchnorm = f.batchnorm == "on";
    c.grad_stats = f.grad_stats == "on";
    c.model.activation = train::parse_activation(f.activation);
    c.model.init = f.init == "normal" ? Init::normal(f.init_std) : Init::pytorch();

    Dataset train_set, test_set;
    try {
        train_set = load_mnist_split(f.data_dir, true);
        test_set = load_mnist_split(f.data_dir, false);
    } catch (const DataError& e) {
        throw UsageError(e.what());
    }
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
    auto f = std::make_shared<TrainFlags>();
    auto& c = f->config;
    CLI::App* sub = app.add_subcommand("train", "Train an MLP or a CNN on MNIST");
    sub->add_option("--model", c.model.kind, "mlp (784-256-256-10) or cnn")
        ->check(CLI::IsMember({"mlp", "cnn"}))
        ->capture_default_str();
    sub->add_option("--batchnorm", f->batchnorm, "BatchNorm after every hidden layer: on or off")
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
    sub->add_option("--data", f->data_dir,
                    "Folder with the four MNIST-format IDX files (raw or .gz)")
        ->capture_default_str();
    sub->add_option("--save", c.save_path, "Write the trained model to this safetensors file");
    sub->add_option("--log", c.log_path, "Write one JSON line per step and per epoch to this file");
    sub->add_option("--hidden", c.model.hidden, "MLP: width of the hidden layers")
        ->capture_default_str();
    sub->add_option("--depth", c.model.depth, "MLP: number of hidden layers")
        ->capture_default_str();
    sub->add_option("--activation", f->activation, "relu, sigmoid or tanh")
        ->check(CLI::IsMember({"relu", "sigmoid", "tanh"}))
        ->capture_default_str();
    sub->add_option("--init", f->init, "Weight initialisation: pytorch (default) or normal")
        ->check(CLI::IsMember({"pytorch", "normal"}))
        ->capture_default_str();
    sub->add_option("--init-std", f->init_std, "Standard deviation for --init normal")
        ->capture_default_str();
    sub->add_option("--max-steps", c.max_steps, "Stop after this many steps (0: no limit)")
        ->capture_default_str();
    sub->add_flag("!--no-progress", c.progress, "Do not draw the progress bar");
    sub->add_option("--grad-stats", f->grad_stats,
                    "Per-layer gradient statistics in the log: on or off")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    sub->add_flag("--detect-anomaly", c.detect_anomaly,
                  "Stop at the first non-finite value in the forward or backward pass and name "
                  "the layer, operation, tensor, shape and step");
    sub->callback([f, &command] { command.run = [f] { return run_train(*f); }; });
}

}  // namespace normgrad::cli
