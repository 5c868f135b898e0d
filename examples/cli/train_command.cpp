// normgrad train: train an MLP or a CNN on MNIST-format data.
#include <fmt/format.h>

#include <limits>
#include <memory>

#include "commands.hpp"
#include "flags.hpp"
#include "normgrad/activity.hpp"
#include "normgrad/distributed.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/inspect.hpp"
#include "normgrad/train/trainer.hpp"
#include "run_files.hpp"
#include "training_flags.hpp"

namespace normgrad::cli {

namespace {

struct TrainFlags {
    TrainingFlags training;
    std::string bn_sync = "global";
    CLI::App* sub = nullptr;
};

// Started by mpirun with several ranks: what each rank does, told once (by rank 0).
void describe_ranks(const train::TrainConfig& c, const Communicator& comm) {
    const train::Slice small = train::rank_slice(c.batch, comm.size() - 1, comm.size());
    const train::Slice large = train::rank_slice(c.batch, 0, comm.size());
    fmt::print(
        "normgrad train: data-parallel on {}: global batch {}, {} image{} per rank{}; BatchNorm "
        "statistics {}\n",
        comm.describe(), c.batch,
        small.count == large.count ? fmt::format("{}", large.count)
                                   : fmt::format("{}-{}", small.count, large.count),
        large.count == 1 ? "" : "s", small.count == large.count ? "" : " (uneven)",
        c.bn_sync == train::BnSync::Global
            ? "global (SyncBatchNorm: the whole batch's, over every rank)"
            : "local (each rank's slice; the running statistics averaged over the ranks before "
              "evaluating and saving)");
}

int run_train(TrainFlags& tf) {
    TrainingFlags& f = tf.training;
    finish_training_flags(f, [&](const std::string& n) { return given(tf.sub, n); });
    auto& c = f.config;
    c.comm = world();
    c.bn_sync = train::parse_bn_sync(tf.bn_sync);
    const bool root = c.comm->rank() == 0;
    if (c.comm->size() == 1 && given(tf.sub, "--bn-sync"))
        throw UsageError(
            "--bn-sync chooses BatchNorm's statistics when several ranks train one model "
            "(mpirun -np N normgrad train ...); this is one process");
    // Every file the run reads or writes, checked and claimed before anything else.
    // (Several ranks: rank 0 writes, so it alone claims the outputs.)
    RunFiles files;
    files.data_folder("--data", f.data_dir);
    files.input("--resume", c.resume_path);
    files.input("--init-from", c.init_from);
    if (root) {
        files.output("--save", c.save_path);
        files.output("--log", c.log_path);
        files.output(
            "--checkpoint", c.checkpoint_path,
            given(tf.sub, "--checkpoint") ? "" : "the default, written if the run is stopped");
        files.allow_same("--checkpoint", "--resume");  // continue a run and keep checkpointing it
    }
    files.check_and_lock();
    if (!c.resume_path.empty() && !c.init_from.empty())
        throw UsageError(
            "--init-from and --resume exclude each other: a resumed run takes its "
            "weights from the checkpoint");
    throw_if_stop_requested("starting: nothing was written");

    fmt::print("normgrad train: loading {}\n", f.data_dir);
    std::fflush(stdout);
    const Splits data = load_splits(f.data_dir);
    fit_model_to_data(c, data, f.data_dir);
    std::shared_ptr<Sequential> model;
    {
        Activity activity("building the model");
        Rng init_rng(c.seed);
        model = train::build_model(c.model, init_rng);
    }
    fmt::print("normgrad train: {} with {}, {} on {} training / {} test images of {}x{}\n",
               c.model.kind == "arch" ? "--arch " + c.model.arch : c.model.kind,
               train::describe(c.model.norm), c.optimizer, data.train.count, data.test.count,
               data.train.rows, data.train.cols);
    fmt::print("{}\n", model->describe());
    if (c.comm->size() > 1) describe_ranks(c, *c.comm);
    if (!c.inspect_at.empty()) {
        if (train::batch_norm_layers(*model).empty())
            throw UsageError(fmt::format(
                "--inspect-at: the model ({} with {}) has no BatchNorm layer to inspect",
                c.model.kind, train::describe(c.model.norm)));
        c.on_inspect = [](int64_t step, const train::Inspection& ins) {
            fmt::print("inspect at step {} (first {} test images; mean over channels):\n", step,
                       ins.batch_images);
            for (const auto& l : ins.layers) {
                std::string params;
                if (l.affine)
                    params =
                        fmt::format("gamma {:.4f} [{:.4f}, {:.4f}]  beta {:.4f} [{:.4f}, {:.4f}]  ",
                                    l.gamma.mean, l.gamma.min, l.gamma.max, l.beta.mean, l.beta.min,
                                    l.beta.max);
                fmt::print(
                    "  {:<10} {}input |mean| {:.4f} std {:.4f} -> output |mean| {:.4f} std "
                    "{:.4f} (batch statistics){}\n",
                    l.name, params, l.train_mode.input.abs_mean, l.train_mode.input.std,
                    l.train_mode.output.abs_mean, l.train_mode.output.std,
                    l.tracked ? fmt::format("; running statistics off by {:.4f} batch std "
                                            "(mean), {:.2f}% (variance)",
                                            l.mean_gap, 100 * l.var_rel_diff)
                              : std::string());
            }
            std::fflush(stdout);
        };
    }
    c.on_note = [](const std::string& s) { fmt::print("note: {}\n", s); };
    c.on_eval = [](const train::EvalInfo& e) {
        fmt::print("step {}: test loss {:.4f}  test accuracy {:.2f}%\n", e.step, e.test_loss,
                   100.0 * e.test_accuracy);
        std::fflush(stdout);
    };

    train::TrainResult r;
    {
        Activity activity("training");
        try {
            r = train::train(c, *model, data.train, data.test);
        } catch (const train::SetupError& e) {
            throw UsageError(e.what());
        }
    }
    if (r.interrupted) {
        fmt::print(
            "interrupted by {} after step {}: checkpoint written to {}; continue with "
            "--resume {}\n",
            stop_reason(), r.last_step, c.checkpoint_path, c.checkpoint_path);
        if (!c.log_path.empty()) fmt::print("log {}\n", c.log_path);
        return 130;
    }
    for (const auto& e : r.epochs)
        fmt::print(
            "epoch {}: train loss {:.4f}  test loss {:.4f}  test accuracy {:.2f}%  train time "
            "{:.2f} s ({:.0f} img/s)\n",
            e.epoch, e.train_loss, e.test_loss, 100.0 * e.test_accuracy, e.train_seconds,
            double(std::min<int64_t>(e.steps * c.batch, data.train.count)) / e.train_seconds);
    if (!c.save_path.empty()) fmt::print("saved {}\n", c.save_path);
    if (!c.log_path.empty()) fmt::print("log {}\n", c.log_path);
    return 0;
}

}  // namespace

void add_train(CLI::App& app, Command& command) {
    auto f = std::make_shared<TrainFlags>();
    CLI::App* sub = app.add_subcommand("train", "Train an MLP or a CNN on MNIST");
    f->sub = sub;
    auto& c = f->training.config;
    add_training_flags(sub, f->training, FlagGroups{});
    sub->add_option("--bn-sync", f->bn_sync,
                    "With several ranks (mpirun -np N normgrad train ...): BatchNorm normalises "
                    "with the statistics of the whole global batch, over every rank (global: "
                    "SyncBatchNorm, what one process on the same batch computes), or of each "
                    "rank's own slice (local: as PyTorch's DDP without SyncBatchNorm; each "
                    "rank's running statistics then follow its slices, and their mean over the "
                    "ranks is what is evaluated, checkpointed and saved)")
        ->check(CLI::IsMember({"global", "local"}))
        ->capture_default_str();
    sub->add_option("--save", c.save_path, "Write the trained model to this safetensors file");
    sub->add_option("--log", c.log_path,
                    "Write the run's settings, one JSON line per step and per epoch, and how the "
                    "run ended, to this file");
    add_int(sub, "--eval-every", c.eval_every, 0, std::numeric_limits<int64_t>::max(),
            "Test loss and accuracy every N steps, printed and in the log (0: after each epoch "
            "only)");
    add_int_list(sub, "--inspect-at", c.inspect_at, 1, std::numeric_limits<int64_t>::max(),
                 "At these steps, show every BatchNorm layer (gamma, beta, its input and output "
                 "statistics, the running statistics against the batch's) on the first 128 test "
                 "images, as normgrad inspect does; in the log too");
    add_int(sub, "--checkpoint-every", c.checkpoint_every, 0, std::numeric_limits<int64_t>::max(),
            "Write a resumable checkpoint every N steps (0: only when the run is stopped)");
    sub->add_option("--checkpoint", c.checkpoint_path,
                    "Where resumable checkpoints go (model, optimizer, RNG state, position)")
        ->capture_default_str();
    sub->add_option("--resume", c.resume_path,
                    "Continue the run saved in this checkpoint (the same settings; --epochs may "
                    "grow)");
    sub->add_option("--init-from", c.init_from,
                    "Start a new run from the weights of this model file (written by --save; "
                    "the optimizer starts afresh)");
    sub->callback([f, &command] { command.run = [f] { return run_train(*f); }; });
}

}  // namespace normgrad::cli
