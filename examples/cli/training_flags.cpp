// The flags shared by `normgrad train`, `normgrad compare` and `normgrad gradnorms`.
#include "training_flags.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

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
    sub->add_option("--model", c.model.kind,
                    "A named model: mlp (dense:256,norm,act twice, then dense:10; --hidden and "
                    "--depth set its size), resmlp (the same with a skip connection around every "
                    "hidden layer after the first) or cnn (two conv3x3 blocks and a dense layer; "
                    "docs/models.md)")
        ->check(CLI::IsMember({"mlp", "resmlp", "cnn"}))
        ->capture_default_str();
    sub->add_option("--arch", f.arch,
                    "Any sequential model with residual blocks, as a spec or @FILE holding one, "
                    "e.g. conv3x3:32,norm,relu,maxpool2,res(conv3x3:32,norm,relu,conv3x3:32,"
                    "norm),relu,gap,dense:10 (docs/models.md has the grammar)");
    if (g.norm) {
        sub->add_option("--norm", f.norm,
                        "What the model's norm layers are: none, batch, layer, group, group:G "
                        "or rms")
            ->capture_default_str();
        sub->add_option("--batchnorm", f.batchnorm,
                        "Short for --norm batch (on) or --norm none (off)")
            ->check(CLI::IsMember({"on", "off"}));
    }
    add_int(sub, "--hidden", c.model.hidden, 1, 65536, "mlp: width of the hidden layers");
    if (g.depth) add_int(sub, "--depth", c.model.depth, 1, 1000, "mlp: number of hidden layers");
    sub->add_option("--activation", f.activation,
                    "What the model's act layers are (and the presets' activation): relu, "
                    "sigmoid or tanh")
        ->check(CLI::IsMember({"relu", "sigmoid", "tanh"}))
        ->capture_default_str();
    sub->add_option("--init", f.init,
                    "Weight initialisation: pytorch (PyTorch's default), he (N(0, 2/fan_in)), "
                    "xavier (Glorot's uniform) or normal (N(0, std^2) weights of --init-std); "
                    "biases 0 but for pytorch")
        ->check(CLI::IsMember({"pytorch", "he", "xavier", "normal"}))
        ->capture_default_str();
    add_real(sub, "--init-std", f.init_std, {0, kInf, true},
             "Standard deviation of the weights for --init normal");
    sub->add_option("--input", f.input,
                    "What the model sees of a pixel: standardize ((p/255 - 0.1307) / 0.3081) or "
                    "unit (p/255 in [0, 1], as the BatchNorm papers)")
        ->check(CLI::IsMember({"standardize", "unit"}))
        ->capture_default_str();
    add_int(sub, "--batch", c.batch, 1, 1 << 20, "Images per step");
    add_uint64(sub, "--seed", c.seed, "Seed for initialisation and data order");
    add_int(sub, "--threads", c.threads, 1, 256, "Threads for GEMM and normgrad's loops");
    sub->add_option("--adapt-threads", f.adapt_threads,
                    "With --threads above 1: on, no more threads than the cores the run may use, "
                    "fewer while other processes keep them busy, all again once they are free "
                    "(the results may then differ in their last bits from run to run); off, "
                    "always --threads")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
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
    if (given("--arch") && given("--model"))
        throw UsageError(
            "--arch and --model exclude each other: --model names a ready-made spec, --arch "
            "gives one");
    if (given("--batchnorm") && given("--norm"))
        throw UsageError(
            fmt::format("--batchnorm {} is the short form of --norm {}: give one of them",
                        f.batchnorm, f.batchnorm == "on" ? "batch" : "none"));
    if (given("--arch")) {
        c.model.kind = "arch";
        c.model.arch = read_arch_flag(f.arch);
    }
    if (!train::sized_by_depth(c.model))
        for (const char* flag : {"--hidden", "--depth"})
            if (given(flag))
                throw UsageError(fmt::format(
                    "{} applies only to --model mlp or resmlp (the {}'s layers have the sizes its "
                    "spec "
                    "gives)",
                    flag, c.model.kind == "arch" ? "--arch model" : c.model.kind));
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
    if (given("--adapt-threads") && c.threads == 1)
        throw UsageError(
            "--adapt-threads applies only with --threads above 1 (one thread never waits for "
            "another)");
    if (given("--log-every") && f.no_progress)
        throw UsageError("--log-every sets the progress lines, which --no-progress turns off");
    c.decay_bias_and_norm = !f.no_decay_bias_norm;
    c.progress = !f.no_progress;
    try {
        c.model.norm = !f.batchnorm.empty()
                           ? (f.batchnorm == "on" ? train::Norm::batch() : train::Norm::none())
                           : train::parse_norm(f.norm);
    } catch (const std::invalid_argument& e) {
        throw UsageError(fmt::format("--norm: {}", e.what()));
    }
    c.grad_stats = f.grad_stats == "on";
    c.adapt_threads = f.adapt_threads == "on";
    c.model.activation = train::parse_activation(f.activation);
    c.model.init = f.init == "normal"   ? Init::normal(f.init_std)
                   : f.init == "he"     ? Init::he()
                   : f.init == "xavier" ? Init::xavier()
                                        : Init::pytorch();
    c.model.input = train::parse_input_scaling(f.input);
}

std::string read_arch_flag(const std::string& value) {
    std::string text = value;
    if (!value.empty() && value[0] == '@') {
        const std::string path = value.substr(1);
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec))
            throw UsageError(
                fmt::format("--arch {}: {} is not a readable file (expected a file "
                            "holding a spec, as in --arch @model.arch)",
                            value, path));
        std::ifstream in(path, std::ios::binary);
        std::ostringstream all;
        all << in.rdbuf();
        if (!in && !in.eof())
            throw UsageError(fmt::format("--arch {}: cannot read {}", value, path));
        text = all.str();
        if (text.size() > 65536)
            throw UsageError(
                fmt::format("--arch {}: {} holds {} bytes (expected a spec of at "
                            "most 65536)",
                            value, path, text.size()));
        // Lines starting with '#' are comments; line breaks are spaces.
        std::string spec;
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);)
            if (line.find_first_not_of(" \t\r") != std::string::npos &&
                line[line.find_first_not_of(" \t\r")] != '#')
                spec += line + " ";
        text = spec;
    }
    try {
        (void)train::parse_arch(text, value[0] == '@' ? "--arch " + value : "--arch");
    } catch (const train::ArchError& e) {
        throw UsageError(e.what());
    }
    // Stored as given, without the spaces around it (the run's settings and checkpoints hold it).
    const size_t b = text.find_first_not_of(" \t\r\n"), e = text.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : text.substr(b, e - b + 1);
}

std::vector<train::Norm> parse_norms(const std::string& flag,
                                     const std::vector<std::string>& values) {
    std::vector<train::Norm> norms;
    for (const std::string& v : values) {
        try {
            norms.push_back(train::parse_norm(v));
        } catch (const std::invalid_argument& e) {
            throw UsageError(fmt::format("{}: {}", flag, e.what()));
        }
    }
    return norms;
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
        throw UsageError(fmt::format(
            "{} (the model takes the {}x{} images of {}, one channel, {} classes)", why,
            data.train.rows, data.train.cols,
            (std::filesystem::path(dir) / "train-images-idx3-ubyte").string(), c.model.classes));
    const int64_t batch = std::min<int64_t>(c.batch, data.train.count);
    const train::MemoryEstimate m =
        train::estimate_training_memory(c.model, batch, c.optimizer, c.momentum);
    const auto available = available_memory();
    if (available && m.total() > available->bytes)
        throw UsageError(fmt::format(
            "the model is too large for this machine: training it needs about {} ({} "
            "parameters, {} copies of them (weights, gradients, optimizer state): {}; "
            "activations of a batch of {}: {}), and {} of memory is available; use a smaller "
            "model (--hidden, --depth, --arch) or --batch",
            format_bytes(m.total()), m.parameters, m.state_copies, format_bytes(m.parameter_bytes),
            batch, format_bytes(m.activation_bytes), format_bytes(available->bytes)));
}

}  // namespace normgrad::cli
