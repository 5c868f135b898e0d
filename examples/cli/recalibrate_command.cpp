// normgrad recalibrate: a saved model's BatchNorm statistics recomputed with one pass over the
// training set (Ioffe and Szegedy's Algorithm 2), and the test accuracy before and after.
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "flags.hpp"
#include "model_files.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/evaluate.hpp"
#include "normgrad/train/model_io.hpp"
#include "normgrad/train/recalibrate.hpp"
#include "run_files.hpp"
#include "training_flags.hpp"

namespace normgrad::cli {

namespace {

struct RecalibrateFlags {
    std::string load_path, save_path;
    std::string data_dir = "data/mnist";
    int batch = 128;
    int threads = 1;
};

int run_recalibrate(const RecalibrateFlags& f) {
    set_num_threads(f.threads);
    RunFiles files;
    files.input("--load", f.load_path);
    files.data_folder("--data", f.data_dir);
    files.output("--save", f.save_path);
    files.check_and_lock();

    train::LoadedModel m = load_model_file(f.load_path);
    if (train::recalibrated_layers(*m.model).empty())
        throw UsageError(fmt::format(
            "{}: the model ({}) has no BatchNorm with running statistics to recalibrate",
            f.load_path, describe_model(m.spec)));
    const Splits data = load_splits(f.data_dir);
    if (data.train.rows != m.spec.image_rows || data.train.cols != m.spec.image_cols)
        throw UsageError(fmt::format(
            "{}: the images are {}x{}, but the model in {} was trained on {}x{} images",
            (std::filesystem::path(f.data_dir) / "train-images-idx3-ubyte").string(),
            data.train.rows, data.train.cols, f.load_path, m.spec.image_rows, m.spec.image_cols));
    if (data.train.count < f.batch)
        throw UsageError(fmt::format(
            "--batch {}: the training set in {} has only {} images (recalibration averages over "
            "whole batches)",
            f.batch, f.data_dir, data.train.count));

    train::Evaluation before, after;
    {
        Activity activity("evaluating the model as loaded");
        before = train::evaluate(*m.model, data.test, 128, m.spec.input);
    }
    throw_if_stop_requested("evaluating: nothing was written");
    train::Recalibration r;
    try {
        Activity activity("recalibrating the BatchNorm statistics");
        r = train::recalibrate_batch_norm(*m.model, data.train, f.batch, m.spec.input);
    } catch (const std::invalid_argument& e) {
        throw UsageError(fmt::format("{}: {}", f.load_path, e.what()));
    }
    {
        Activity activity("evaluating the recalibrated model");
        after = train::evaluate(*m.model, data.test, 128, m.spec.input);
    }

    const std::string what = m.spec.kind == "arch" ? "--arch " + m.spec.arch : m.spec.kind;
    fmt::print(
        "{}: {} with {}, recalibrated on {} training images: {} batches of {} in file order{}.\n",
        f.load_path, what, train::describe(m.spec.norm), r.images, r.batches, f.batch,
        r.left_out ? fmt::format(" (the last {} images, a partial batch, left out)", r.left_out)
                   : "");
    fmt::print(
        "Population statistics (Ioffe & Szegedy's Algorithm 2: the mean of the batch means, and "
        "m/(m-1) times the mean of the batch variances, m values per channel in a batch) "
        "against the running averages the file held:\n");
    fmt::print("{:<16} {:>8} {:>9}   {:<27}   {}\n", "layer", "channels", "m",
               "mean moved (in its std)", "variance changed");
    for (const auto& s : r.layers)
        fmt::print(
            "{:<16} {:>8} {:>9}   max {:<8.4f} average {:<8.4f}   max {:>7.2f}% average {:.2f}%\n",
            s.layer, s.channels, s.values_per_batch, s.mean_shift_max, s.mean_shift_avg,
            100.0 * s.var_change_max, 100.0 * s.var_change_avg);
    fmt::print(
        "test accuracy: before {:.2f}% (loss {:.4f}), after {:.2f}% (loss {:.4f}), on {} "
        "images\n",
        100.0 * before.accuracy, before.loss, 100.0 * after.accuracy, after.loss, data.test.count);
    if (f.save_path.empty()) {
        fmt::print("not saved (--save FILE writes the recalibrated model)\n");
        return 0;
    }
    throw_if_stop_requested("recalibrating: nothing was written");
    {
        Activity activity(fmt::format("saving the model to {}", f.save_path));
        // The optimizer state is not carried over: the file is for evaluation, or for a new run
        // with --init-from.
        train::save_model(f.save_path, *m.model, m.spec);
    }
    fmt::print("saved the recalibrated model to {}\n", f.save_path);
    return 0;
}

}  // namespace

void add_recalibrate(CLI::App& app, Command& command) {
    auto f = std::make_shared<RecalibrateFlags>();
    CLI::App* sub = app.add_subcommand(
        "recalibrate",
        "Recompute a saved model's BatchNorm statistics with one pass over the training set "
        "(Algorithm 2 of the BatchNorm paper) and report the test accuracy before and after");
    sub->add_option("--load", f->load_path, "A model written by normgrad train --save")->required();
    sub->add_option("--save", f->save_path,
                    "Write the recalibrated model here (never the --load file)");
    sub->add_option("--data", f->data_dir, "Folder with the MNIST-format IDX files")
        ->capture_default_str();
    add_int(sub, "--batch", f->batch, 2, 1 << 20,
            "Images per batch of the pass (m; the training batch size is the natural choice)");
    add_int(sub, "--threads", f->threads, 1, 256, "Threads");
    sub->callback([f, &command] { command.run = [f] { return run_recalibrate(*f); }; });
}

}  // namespace normgrad::cli
