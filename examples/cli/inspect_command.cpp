// normgrad inspect: what each BatchNorm layer of a saved model learned and does, on real test
// images (train/inspect.cpp).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "flags.hpp"
#include "model_files.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/inspect.hpp"
#include "normgrad/train/model_io.hpp"
#include "normgrad/train/running_lag.hpp"
#include "run_files.hpp"

namespace normgrad::cli {

namespace {

struct InspectFlags {
    std::string load_path;
    std::string data_dir = "data/mnist";
    int batch = 128;
    int threads = 1;
    int lag_steps = 300;
    uint64_t seed = 0;
};

// "min -0.31 mean 0.02 max 0.40 (started at 0)  |  .:-=+*#%@ histogram".
std::string histogram_bar(const std::vector<int64_t>& h) {
    static const char* kLevels = " .:-=+*#%@";
    const int64_t top = h.empty() ? 0 : *std::max_element(h.begin(), h.end());
    std::string bar;
    for (int64_t n : h)
        bar.push_back(
            n == 0 ? ' ' : kLevels[std::min<int64_t>(9, 1 + (n * 8) / std::max<int64_t>(top, 1))]);
    return bar;
}

void print_values(const char* what, const train::ValueSummary& s) {
    std::string counts;
    for (size_t i = 0; i < s.histogram.size(); ++i)
        counts += fmt::format("{}{}", i ? " " : "", s.histogram[i]);
    fmt::print("  {:<5} min {:>8.4f}  mean {:>8.4f}  max {:>8.4f}  (started at {:g})\n", what,
               s.min, s.mean, s.max, s.start);
    fmt::print("        10 bins from min to max: [{}]  counts {}\n", histogram_bar(s.histogram),
               counts);
}

void print_mode(const char* mode, const train::ModeView& v) {
    fmt::print(
        "  {:<38} input: |mean| {:>8.4f} std {:>8.4f}   output: |mean| {:>8.4f} std "
        "{:>8.4f}   |out mean - beta| {:.4f}  |out std - |gamma|| {:.4f}\n",
        mode, v.input.abs_mean, v.input.std, v.output.abs_mean, v.output.std, v.mean_off_beta,
        v.std_off_gamma);
}

// The momentum's lag (running_lag.hpp): steps until the running statistics, restarted from 0 and
// 1 with the weights frozen, come within 1% of the population statistics.
void print_lag(const InspectFlags& f, train::LoadedModel& m, const Dataset& train_set) {
    train::RunningLag lag;
    {
        Activity activity("measuring the running statistics' lag");
        lag = train::measure_running_lag(*m.model, train_set, f.lag_steps, f.batch, m.spec.input,
                                         f.seed);
    }
    fmt::print(
        "\nHow the momentum makes the running statistics lag: the weights frozen, the running "
        "mean and variance restarted at 0 and 1 (as at the start of training) and updated by "
        "{} training-mode forwards of {} shuffled training images (--seed {}), after each step "
        "compared with the population statistics (Algorithm 2 over the {} training images). "
        "Gaps: mean over channels of |running mean - population mean| in population std, and "
        "of |running var / population var - 1|.\n",
        lag.steps, lag.batch, f.seed, train_set.count);
    const std::vector<int64_t> shown{1, 5, 10, 20, 50, 100, 200, 500, 1000};
    fmt::print("{:<14} {:>9} {:>9}", "layer", "momentum", "m");
    for (int64_t s : shown)
        if (s <= lag.steps) fmt::print(" {:>15}", fmt::format("step {}", s));
    fmt::print("  within 1% from step   floor (last half, mean)  noise predicts\n");
    for (const auto& l : lag.layers) {
        fmt::print("{:<14} {:>9} {:>9}", l.name,
                   l.momentum > 0 ? fmt::format("{:g}", l.momentum) : std::string("cumulative"),
                   l.values_per_batch);
        for (int64_t s : shown)
            if (s <= lag.steps) {
                const auto& p = l.steps[size_t(s - 1)];
                fmt::print(" {:>15}", fmt::format("{:.4f}/{:.2f}%", p.mean_gap, 100 * p.var_gap));
            }
        const std::string within =
            l.stays_within   ? fmt::format("{} (first {})", l.stays_within, l.first_within)
            : l.first_within ? fmt::format("not for good (first {})", l.first_within)
                             : std::string("never");
        fmt::print("  {:<20} {:.4f} std / {:.2f}%           {:.4f} std / {:.2f}%\n", within,
                   l.mean_gap_floor, 100 * l.var_gap_floor, l.mean_floor_predicted,
                   100 * l.var_floor_predicted);
    }
    fmt::print(
        "(cells: mean gap / variance gap. A gap from the start shrinks by (1 - momentum) per "
        "step; the batches' noise leaves a floor, which the last column predicts from the "
        "measured spread s of the batch statistics over these batches: sqrt(2/pi) * s * "
        "sqrt(momentum / (2 - momentum)), the mean absolute deviation of an exponential average "
        "of Gaussian noise; it is largest where m is small.)\n");
}

int run_inspect(const InspectFlags& f) {
    set_num_threads(f.threads);
    RunFiles files;
    files.input("--load", f.load_path);
    files.data_folder("--data", f.data_dir);
    files.check_and_lock();

    train::LoadedModel m = load_model_file(f.load_path);
    const std::string what = describe_model(m.spec);
    if (train::batch_norm_layers(*m.model).empty())
        throw UsageError(
            fmt::format("{}: the model ({}) has no BatchNorm layer to inspect (train it with "
                        "--batchnorm on, or --norm batch)",
                        f.load_path, what));
    const Dataset test_set = load_test_set_for(m.spec, f.load_path, f.data_dir);
    if (test_set.count < f.batch)
        throw UsageError(fmt::format("--batch {}: the test set in {} has only {} images", f.batch,
                                     f.data_dir, test_set.count));

    // The lag measurement's training set, checked before any work.
    Dataset train_set;
    if (f.lag_steps > 0) {
        train_set = load_split_for(m.spec, f.load_path, f.data_dir, true);
        if (train_set.count < f.batch)
            throw UsageError(fmt::format(
                "--batch {}: the training set in {} has only {} images (--lag-steps 0 skips the "
                "lag measurement, which uses it)",
                f.batch, f.data_dir, train_set.count));
    }
    train::Inspection r;
    {
        Activity activity("inspecting the BatchNorm layers");
        r = train::inspect_batch_norm(*m.model, test_set, f.batch, m.spec.input,
                                      {1, 8, int64_t(f.batch)});
    }

    fmt::print("{}: {}, {} BatchNorm layer{}, on the first {} test images (file order)\n",
               f.load_path, what, r.layers.size(), r.layers.size() == 1 ? "" : "s", r.batch_images);
    fmt::print(
        "Per channel: mean and std (biased) over the batch (and H, W); shown is the mean over "
        "channels of |mean| and of std. Training mode normalises with this batch's statistics, "
        "evaluation mode with the running ones; either way the output should have mean near "
        "beta and std near |gamma|. (After the first layer the inputs differ between the modes "
        "too: the layers before normalised differently.)\n");
    for (const auto& l : r.layers) {
        fmt::print("\n{} {}: {} channels, m = {} values per channel in the batch\n", l.name, l.kind,
                   l.channels, l.values_per_channel);
        if (l.affine) {
            print_values("gamma", l.gamma);
            print_values("beta", l.beta);
        } else {
            fmt::print("  affine off: no gamma or beta (output mean 0, std 1)\n");
        }
        print_mode("training mode (batch statistics):", l.train_mode);
        print_mode("evaluation mode (running statistics):", l.eval_mode);
        if (l.tracked)
            fmt::print(
                "  running statistics against this batch's: mean off by {:.4f} batch std on "
                "average, variance off by {:.2f}% on average (batch variance unbiased)\n",
                l.mean_gap, 100.0 * l.var_rel_diff);
        else
            fmt::print("  no running statistics (evaluation mode uses the batch's too)\n");
    }
    fmt::print("\nTest accuracy on {} images:\n", r.test_images);
    fmt::print(
        "  evaluation mode (running statistics): {:.2f}% (batches of 128; each image's "
        "output is its own, whatever the batch)\n",
        100.0 * r.eval_accuracy);
    for (const auto& a : r.train_mode_accuracy) {
        if (a.accuracy)
            fmt::print("  training-mode normalisation, test batches of {:>4}: {:.2f}%\n", a.batch,
                       100.0 * *a.accuracy);
        else
            fmt::print("  training-mode normalisation, test batches of {:>4}: undefined: {}\n",
                       a.batch, a.undefined_why);
    }
    if (f.lag_steps > 0) print_lag(f, m, train_set);
    fmt::print(
        "(the model's running statistics are as the file holds them: nothing was written)\n");
    return 0;
}

}  // namespace

void add_inspect(CLI::App& app, Command& command) {
    auto f = std::make_shared<InspectFlags>();
    CLI::App* sub = app.add_subcommand(
        "inspect",
        "Show what each BatchNorm layer of a saved model learned (gamma, beta) and does to real "
        "test images, with batch and running statistics, and the test accuracy of both");
    sub->add_option("--load", f->load_path, "A model written by normgrad train --save")->required();
    sub->add_option("--data", f->data_dir, "Folder with the MNIST-format IDX files")
        ->capture_default_str();
    add_int(sub, "--batch", f->batch, 2, 1 << 20,
            "Test images in the inspected batch (the first ones in file order), and the largest "
            "test batch size of the accuracy comparison");
    add_int(sub, "--threads", f->threads, 1, 256, "Threads");
    add_int(sub, "--lag-steps", f->lag_steps, 0, 1000000,
            "Steps of the running statistics' lag measurement, on the training set (0: skip it)");
    sub->add_option("--seed", f->seed, "The shuffled order of the lag measurement's batches")
        ->capture_default_str();
    sub->callback([f, &command] { command.run = [f] { return run_inspect(*f); }; });
}

}  // namespace normgrad::cli
