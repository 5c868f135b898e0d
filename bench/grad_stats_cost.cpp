// grad_stats_cost: what the per-layer gradient statistics cost a training step, measured inside
// one process. Whole runs of `normgrad train --grad-stats on` against `off` (bench/bench.py)
// scatter by 5 to 10% from one run to the next on a shared host, more than the 3% in question;
// here blocks of steps with the statistics on and off alternate in one training run, in the
// order off, on, on, off, off, on, ... (so that a steady drift of the host's speed falls on both
// alike), and each step is timed alone.
//
//   grad_stats_cost --model mlp|cnn --batchnorm on|off [--steps N] [--block K] [--warmup W]
//                   [--threads T] [--data DIR] [--log DIR] [--only on|off]
//
// A step is what `normgrad train` does (train/trainer.cpp): the batch, forward, zero_grad,
// backward, the global gradient norm, the update, and the step's line of the training log
// (--log; written under DIR, a temporary directory by default), with GradStats around it as the
// trainer places it when on. Off, the statistics object does not exist: its hooks are gone too.
// Same model and optimizer as the benchmark: batch 128, SGD lr 0.05, momentum 0.9
// (preset_training.hpp).
// --only on (or off) runs every step in one setting, for a profiler (no cost is printed then).
// Prints one JSON line: the steps timed in each setting, their mean seconds, the cost (mean on /
// mean off - 1), and the quartiles of the cost over the pairs of neighbouring blocks (and each
// pair's cost).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "flags.hpp"  // examples/cli/flags.hpp, the command line's flags
#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/train/grad_stats.hpp"
#include "normgrad/train/run_log.hpp"
#include "preset_training.hpp"

using namespace normgrad;

namespace {

struct Options {
    std::string model = "cnn", batchnorm = "on", data = "data/mnist", log_dir, only;
    int64_t steps = 469, block = 20, warmup = 20;
    int threads = 1;
};

// The flags, declared as the command line's (examples/cli/flags.hpp: each number with its
// range); a mistake prints CLI11's message naming the flag and exits with 2.
Options parse(int argc, char** argv) {
    using normgrad::cli::add_int;
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    Options o;
    CLI::App app{"grad_stats_cost: the gradient statistics' cost inside one training process"};
    app.add_option("--model", o.model, "the preset")->check(CLI::IsMember({"mlp", "cnn"}));
    app.add_option("--batchnorm", o.batchnorm, "with BatchNorm")
        ->check(CLI::IsMember({"on", "off"}));
    add_int(&app, "--steps", o.steps, 2, kMax, "steps timed");
    add_int(&app, "--block", o.block, 1, kMax, "steps a block");
    add_int(&app, "--warmup", o.warmup, 0, kMax, "steps before the first block");
    int64_t threads = o.threads;
    add_int(&app, "--threads", threads, 1, kMax, "threads (at most 256 are used)");
    app.add_option("--data", o.data, "the MNIST folder");
    app.add_option("--log", o.log_dir, "a folder for each block's run log");
    app.add_option("--only", o.only, "every step on or off, for a profiler")
        ->check(CLI::IsMember({"on", "off"}));
    try {
        app.parse(argc, argv);
        o.threads = int(std::min<int64_t>(threads, 256));
        if (o.steps < 2 * o.block)
            throw CLI::ValidationError("--steps", "must hold two blocks at least (one of each)");
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);  // prints the help, or the error
        std::exit(status == 0 ? 0 : 2);
    }
    return o;
}

double mean(const std::vector<double>& v) {
    double s = 0.0;
    for (double x : v) s += x;
    return s / double(v.size());
}

double quartile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const double at = q * double(v.size() - 1);
    const auto lo = size_t(at);
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (at - double(lo)) * (v[hi] - v[lo]);
}

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    set_num_threads(o.threads);
    const Dataset train_set = load_mnist_split(o.data, true);

    bench::PresetTraining run(o.model, o.batchnorm == "on", train_set);
    auto& model = run.model();
    const std::vector<Parameter>& params = run.params();
    Sgd& opt = run.optimizer();

    namespace fs = std::filesystem;
    const fs::path dir = o.log_dir.empty() ? fs::temp_directory_path() : fs::path(o.log_dir);
    const fs::path log_path = dir / fmt::format("grad_stats_cost_{}.jsonl", ::getpid());
    train::RunLog log(log_path.string(), {}, nullptr);

    std::unique_ptr<train::GradStats> stats;
    std::vector<double> seconds[2];  // per setting (0 off, 1 on): each timed step
    std::vector<double> block_mean[2];
    double block_sum = 0.0;  // of the current block's steps
    using Clock = std::chrono::steady_clock;
    for (int64_t step = 0; step < o.warmup + o.steps; ++step) {
        const bool timed = step >= o.warmup;
        const int64_t b = timed ? (step - o.warmup) / o.block : -1;
        const bool on = !o.only.empty() ? o.only == "on"
                        : timed         ? ((b + 1) / 2) % 2 == 1  // off, on, on, off, ...
                                        : step % 2 == 1;
        if (on != bool(stats)) {  // between steps, untimed: hooks added or removed
            if (on)
                stats = std::make_unique<train::GradStats>(model, &opt);
            else
                stats.reset();
        }
        run.begin_step(step);

        const auto t0 = Clock::now();
        const train::Batch bt = run.batch();
        if (stats) stats->begin_step();
        Tensor loss = cross_entropy(model(bt.images), bt.labels);
        const float loss_value = loss.item();
        opt.zero_grad();
        autograd::backward(loss);
        if (stats) stats->after_backward();
        const double norm = stats ? stats->current().global_grad_norm : global_grad_norm(params);
        if (stats) stats->before_update();
        opt.step();
        if (stats) stats->after_update();
        log.step({1, step + 1, loss_value, opt.lr(), norm, stats ? &stats->current() : nullptr});
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();

        if (!timed) continue;
        seconds[on].push_back(s);
        block_sum += s;
        const bool block_ends =
            (step - o.warmup + 1) % o.block == 0 || step + 1 == o.warmup + o.steps;
        if (block_ends) {
            const int64_t n = (step - o.warmup) % o.block + 1;
            block_mean[on].push_back(block_sum / double(n));
            block_sum = 0.0;
        }
    }
    log.completed(o.warmup + o.steps);
    fs::remove(log_path);
    if (!o.only.empty()) {
        const auto& v = seconds[o.only == "on"];
        fmt::print(
            "{{\"model\":\"{}\",\"batchnorm\":\"{}\",\"only\":\"{}\",\"steps\":{},"
            "\"seconds\":{:.6f}}}\n",
            o.model, o.batchnorm, o.only, v.size(), mean(v));
        return 0;
    }

    // Neighbouring blocks of the two settings: block 2k (off, then on, ...) with block 2k + 1.
    std::vector<double> pair_costs;
    const size_t pairs = std::min(block_mean[0].size(), block_mean[1].size());
    for (size_t i = 0; i < pairs; ++i)
        pair_costs.push_back(block_mean[1][i] / block_mean[0][i] - 1.0);
    const double off = mean(seconds[0]), on = mean(seconds[1]);
    std::string pair_list;
    for (double c : pair_costs)
        pair_list += fmt::format("{}{:.4f}", pair_list.empty() ? "" : ",", c);
    fmt::print(
        "{{\"model\":\"{}\",\"batchnorm\":\"{}\",\"threads\":{},\"block\":{},\"steps_off\":{},"
        "\"steps_on\":{},\"seconds_off\":{:.6f},\"seconds_on\":{:.6f},\"cost\":{:.4f},"
        "\"pair_cost_q1\":{:.4f},\"pair_cost_median\":{:.4f},\"pair_cost_q3\":{:.4f},"
        "\"pair_costs\":[{}]}}\n",
        o.model, o.batchnorm, o.threads, o.block, seconds[0].size(), seconds[1].size(), off, on,
        on / off - 1.0, quartile(pair_costs, 0.25), quartile(pair_costs, 0.5),
        quartile(pair_costs, 0.75), pair_list);
    return 0;
} catch (const std::exception& e) {
    fmt::print(stderr, "grad_stats_cost: {}\n", e.what());
    return 1;
}
