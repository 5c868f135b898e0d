// normgrad fold: a saved model with every BatchNorm folded into the Dense or Conv2d before it,
// for inference; checked against the original on the test set and timed.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "flags.hpp"
#include "model_files.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/evaluate.hpp"
#include "normgrad/train/fold.hpp"
#include "normgrad/train/model_io.hpp"
#include "run_files.hpp"

namespace normgrad::cli {

namespace {

struct FoldFlags {
    std::string load_path, save_path;
    std::string data_dir = "data/mnist";
    int repeats = 3;
    int threads = 1;
};

int run_fold(const FoldFlags& f) {
    set_num_threads(f.threads);
    RunFiles files;
    files.input("--load", f.load_path);
    files.data_folder("--data", f.data_dir);
    files.output("--save", f.save_path);
    files.check_and_lock();

    train::LoadedModel m = load_model_file(f.load_path);
    train::FoldedModel folded;
    try {
        folded = train::fold_batch_norm(*m.model, m.spec);
    } catch (const train::FoldError& e) {
        throw UsageError(fmt::format("{}: cannot fold: {}", f.load_path, e.what()));
    }
    const Dataset test_set = load_test_set_for(m.spec, f.load_path, f.data_dir);

    train::OutputDifference diff;
    {
        Activity activity("comparing the folded model's outputs with the original's");
        diff = train::compare_outputs(*m.model, *folded.model, test_set, 128, m.spec.input);
    }
    throw_if_stop_requested("comparing the models: nothing was written");
    {
        Activity activity(fmt::format("saving the folded model to {}", f.save_path));
        train::save_model(f.save_path, *folded.model, folded.spec);
    }

    // Evaluation time of each, interleaved (a shared machine slows both alike), the minimum
    // of the repeats; the first evaluation of each is also its accuracy and warms it up.
    using Clock = std::chrono::steady_clock;
    auto timed = [&](Module& model, train::Evaluation* ev) {
        const auto t0 = Clock::now();
        *ev = train::evaluate(model, test_set, 128, m.spec.input);
        return std::chrono::duration<double>(Clock::now() - t0).count();
    };
    train::Evaluation original_ev, folded_ev;
    double original_s = 1e300, folded_s = 1e300;
    {
        Activity activity("timing the evaluation of both models");
        timed(*m.model, &original_ev);
        timed(*folded.model, &folded_ev);
        for (int i = 0; i < f.repeats; ++i) {
            throw_if_stop_requested("timing the evaluation (the folded model is saved)");
            original_s = std::min(original_s, timed(*m.model, &original_ev));
            folded_s = std::min(folded_s, timed(*folded.model, &folded_ev));
        }
    }

    std::string folds;
    for (const auto& s : folded.folds) folds += (folds.empty() ? "" : ", ") + s;
    fmt::print("{}: {}: folded {}\n", f.load_path, describe_model(m.spec), folds);
    fmt::print("saved {}: {} (the same spec without the BatchNorms)\n", f.save_path,
               describe_model(folded.spec));
    fmt::print(
        "evaluation outputs (logits) on {} test images, folded against original: max |difference| "
        "{:.3g}, max relative {:.3g} (relative above 1, absolute below)\n",
        test_set.count, diff.max_abs, diff.max_rel);
    fmt::print("test accuracy: original {:.2f}% (loss {:.4f}), folded {:.2f}% (loss {:.4f})\n",
               100.0 * original_ev.accuracy, original_ev.loss, 100.0 * folded_ev.accuracy,
               folded_ev.loss);
    fmt::print(
        "evaluation time of the test set, {} thread{}, min of {}: original {:.3f} s, folded {:.3f} "
        "s ({:.2f}x)\n",
        f.threads, f.threads == 1 ? "" : "s", f.repeats, original_s, folded_s,
        original_s / folded_s);
    return 0;
}

}  // namespace

void add_fold(CLI::App& app, Command& command) {
    auto f = std::make_shared<FoldFlags>();
    CLI::App* sub = app.add_subcommand(
        "fold",
        "Fold every BatchNorm of a saved model into the Dense or Conv2d before it, for "
        "inference; compare the outputs and time the evaluation");
    sub->add_option("--load", f->load_path, "A model written by normgrad train --save")->required();
    sub->add_option("--save", f->save_path,
                    "Write the folded model here (a model file normgrad eval loads)")
        ->required();
    sub->add_option("--data", f->data_dir, "Folder with the MNIST-format IDX files")
        ->capture_default_str();
    add_int(sub, "--repeats", f->repeats, 1, 100, "Timed evaluations of each model");
    add_int(sub, "--threads", f->threads, 1, 256, "Threads");
    sub->callback([f, &command] { command.run = [f] { return run_fold(*f); }; });
}

}  // namespace normgrad::cli
