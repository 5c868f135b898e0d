// The flags shared by `normgrad train`, `normgrad compare` and `normgrad gradnorms`.
#include "training_flags.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "commands.hpp"
#include "flags.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/system_memory.hpp"

namespace normgrad::cli {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

}  // namespace

void add_training_flags(CLI::App* sub, TrainingFlags& f, const FlagGroups& g) {
    auto& c = f.config;
    if (g.model_kind)
        sub->add_option("--model", c.model.kind, "mlp (784-256-256-10 by default) or cnn")
            ->check(CLI::IsMember({"mlp", "cnn"}))
            ->capture_default_str();
    if (g.batchnorm)
        sub->add_option("--batchnorm", f.batchnorm, "BatchNorm after every hidden layer: on or off")
            ->check(CLI::IsMember({"on", "off"}))
            ->capture_default_str();
    add_int(sub, "--hidden", c.model.hidden, 1, 65536, "mlp: width of the hidden layers");
    if (g.depth) add_int(sub, "--depth", c.model.depth, 1, 1000, "mlp: number of hidden layers");
    sub->add_option("--activation", f.activation, "relu, sigmoid or tanh")
        ->check(CLI::IsMember({"relu", "sigmoid", "tanh"}))
        ->capture_default_str();
    sub->add_option("--init", f.init,
                    "Weight initialisation: pytorch (PyTorch's default) or normal (N(0, "
                    "std^2) weights, zero biases)")
        ->check(CLI::IsMember({"pytorch", "normal"}))
        ->capture_default_str();
    add_real(sub, "--init-std", f.init_std, {0, kInf, true},
             "Standard deviation of the weights for --init normal");
    add_int(sub, "--batch", c.batch, 1, 1 << 20, "Images per step");
    add_uint64(sub, "--seed", c.seed, "Seed for initialisation and data order");
    add_int(sub, "--threads", c.threads, 1, 256, "Threads for GEMM and normgrad's loops");
    sub->add_option("--data", f.data_dir,
                    "Folder with the four MNIST-format IDX files (raw or .gz)")
        ->capture_default_str();
    if (g.optimizer) {
        sub->add_option("--optimizer", c.optimizer, "sgd, adam or adamw")
            ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
            ->capture_default_str();
        add_real(sub, "--lr", c.lr, {0, kInf, true}, "Learning rate");
        add_real(sub, "--momentum", c.momentum, {0, 1, false, true}, "Momentum (sgd only)");
        sub->add_flag("--nesterov", c.nesterov, "Nesterov momentum (sgd only)");
        add_real(sub, "--weight-decay", c.weight_decay, {0, kInf},
                 "Weight decay (L2 for sgd and adam, decoupled for adamw)");
        sub->add_flag("--no-decay-bias-norm", f.no_decay_bias_norm,
                      "Exclude biases and BatchNorm gamma/beta from weight decay");
        sub->add_option("--schedule", c.schedule,
                        "Learning rate over the run: constant; step (divided by 10 after each "
                        "third of the run); cosine (cosine decay from --lr to 0 over the run)")
            ->check(CLI::IsMember({"constant", "step", "cosine"}))
            ->capture_default_str();
        add_int(sub, "--warmup", c.warmup_steps, 0, kNoMax,
                "Steps of linear warm-up from 0 to --lr before the schedule");
        add_real(sub, "--clip", c.clip_norm, {0, kInf},
                 "Clip the global gradient norm to this (0: off)");
    }
    if (g.schedule) {
        add_int(sub, "--epochs", c.epochs, 1, 100000, "Passes over the training set");
        add_int(sub, "--max-steps", c.max_steps, 0, kNoMax,
                "Stop after this many steps in all (0: no limit)");
        sub->add_flag("--drop-last", c.drop_last,
                      "Drop the last batch of every epoch when it is smaller than --batch (as "
                      "PyTorch's DataLoader drop_last)");
        sub->add_flag("--no-progress", f.no_progress,
                      "No progress bar, and no progress lines when the output is not a terminal");
        add_int(sub, "--log-every", c.log_every, 0, kNoMax,
                "When the output is not a terminal, a progress line every N steps (0: about "
                "ten per epoch)");
        sub->add_flag("--detect-anomaly", c.detect_anomaly,
                      "Stop at the first non-finite value in the forward or backward pass and "
                      "name the layer, operation, tensor, shape and step");
    }
    if (g.grad_stats)
        sub->add_option("--grad-stats", f.grad_stats,
                        "Per-layer gradient statistics in the log: on or off")
            ->check(CLI::IsMember({"on", "off"}))
            ->capture_default_str();
}

void finish_training_flags(TrainingFlags& f, const std::function<bool(const std::string&)>& given) {
    auto& c = f.config;
    // A flag that would do nothing with the others given is a mistake worth saying.
    if (given("--init-std") && f.init != "normal")
        throw UsageError(fmt::format(
            "--init-std applies only with --init normal (the {} initialisation sets its own "
            "scale)",
            f.init));
    if (c.model.kind == "cnn")
        for (const char* flag : {"--hidden", "--depth"})
            if (given(flag))
                throw UsageError(fmt::format(
                    "{} applies only to --model mlp (the cnn's layers have fixed sizes)", flag));
    if (c.optimizer != "sgd")
        for (const char* flag : {"--momentum", "--nesterov"})
            if (given(flag))
                throw UsageError(fmt::format(
                    "{} applies only to --optimizer sgd ({} keeps its own moment estimates)", flag,
                    c.optimizer));
    if (c.nesterov && !(c.momentum > 0.f))
        throw UsageError(
            "--nesterov needs a momentum above 0 (Nesterov's step looks ahead along "
            "the momentum)");
    if (f.no_decay_bias_norm && !(c.weight_decay > 0.f))
        throw UsageError("--no-decay-bias-norm has no effect without --weight-decay above 0");
    if (given("--log-every") && f.no_progress)
        throw UsageError("--log-every sets the progress lines, which --no-progress turns off");
    c.decay_bias_and_norm = !f.no_decay_bias_norm;
    c.progress = !f.no_progress;
    c.model.batchnorm = f.batchnorm == "on";
    c.grad_stats = f.grad_stats == "on";
    c.model.activation = train::parse_activation(f.activation);
    c.model.init = f.init == "normal" ? Init::normal(f.init_std) : Init::pytorch();
}

Splits load_splits(const std::string& dir) {
    Activity activity(fmt::format("loading the data set in {}", dir));
    Splits s;
    try {
        s.train = load_mnist_split(dir, true);
        throw_if_stop_requested("loading the data: nothing was written");
        s.test = load_mnist_split(dir, false);
    } catch (const DataError& e) {
        throw UsageError(e.what());
    }
    throw_if_stop_requested("loading the data: nothing was written");
    if (s.test.rows != s.train.rows || s.test.cols != s.train.cols)
        throw UsageError(fmt::format(
            "{}: the test images are {}x{}, but the training images (and so the model) are "
            "{}x{} (expected test images of the training images' size)",
            (std::filesystem::path(dir) / "t10k-images-idx3-ubyte").string(), s.test.rows,
            s.test.cols, s.train.rows, s.train.cols));
    return s;
}

void fit_model_to_data(train::TrainConfig& c, const Splits& data, const std::string& dir) {
    c.model.image_rows = data.train.rows;
    c.model.image_cols = data.train.cols;
    if (const std::string why =
            train::image_size_problem(c.model, data.train.rows, data.train.cols);
        !why.empty())
        throw UsageError(
            fmt::format("{}: the training images are {}x{}, which the model cannot take: {}",
                        (std::filesystem::path(dir) / "train-images-idx3-ubyte").string(),
                        data.train.rows, data.train.cols, why));
    const int64_t batch = std::min<int64_t>(c.batch, data.train.count);
    const train::MemoryEstimate m =
        train::estimate_training_memory(c.model, batch, c.optimizer, c.momentum);
    const auto available = available_memory();
    if (available && m.total() > available->bytes)
        throw UsageError(fmt::format(
            "the model is too large for this machine: training it needs about {} ({} "
            "parameters, {} copies of them (weights, gradients, optimizer state): {}; "
            "activations of a batch of {}: {}), and {} of memory is available; use a smaller "
            "--hidden, --depth or --batch",
            format_bytes(m.total()), m.parameters, m.state_copies, format_bytes(m.parameter_bytes),
            batch, format_bytes(m.activation_bytes), format_bytes(available->bytes)));
}

}  // namespace normgrad::cli
