// The training loop: forward, zero_grad, backward, update, step after step, epoch after epoch.
// Everything that can refuse a run was checked before (run_setup.cpp); around the loop are only
// what makes it safe to stop and continue: the log, checkpoints, and an end record however the
// run ends.
#include "normgrad/train/trainer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <optional>

#include "normgrad/activity.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/cross_entropy.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/anomaly.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/evaluate.hpp"
#include "normgrad/train/grad_sync.hpp"
#include "normgrad/train/progress.hpp"
#include "normgrad/train/thread_governor.hpp"
#include "run_setup.hpp"

namespace normgrad::train {

namespace {

// The first `n` images of `d` (all of them when it has fewer).
Dataset first_images(const Dataset& d, int64_t n) {
    Dataset out;
    out.count = std::min(n, d.count);
    out.rows = d.rows;
    out.cols = d.cols;
    const auto pixels = size_t(out.count * d.rows * d.cols);
    out.images.assign(d.images.begin(), d.images.begin() + std::ptrdiff_t(pixels));
    out.labels.assign(d.labels.begin(), d.labels.begin() + std::ptrdiff_t(out.count));
    return out;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

class Trainer {
  public:
    Trainer(const TrainConfig& c, Sequential& model, const Dataset& train_set,
            const Dataset& test_set, const std::function<void(const StepInfo&)>& on_step,
            PreparedRun& run)
        : c_(c),
          model_(model),
          train_set_(train_set),
          test_set_(test_set),
          on_step_(on_step),
          run_(run),
          opt_(*run.optimizer),
          params_(model.parameters()),
          data_rng_(data_order_rng(c.seed)),
          comm_(c.comm ? c.comm : local_communicator()),
          distributed_(comm_->size() > 1),
          root_(comm_->rank() == 0),
          step_(run.at.step) {
        if (distributed_) {
            broadcast_state(model_, *comm_);
            if (c.bn_sync == BnSync::Global) set_batch_norm_sync(model_, comm_.get());
            grad_sync_ = std::make_unique<GradSync>(params_, comm_);
        }
        // Dropout's masks: a stream of their own, seeded from --seed, continued on resume.
        if (run.resumed && !run.at.training_rng_state.empty())
            training_rng().set_state(run.at.training_rng_state);
        else
            seed_training_rng(training_rng_seed(c.seed));
        if (c.grad_stats) stats_ = std::make_unique<GradStats>(model, &opt_);
        if (c.detect_anomaly) anomaly_ = std::make_unique<AnomalyDetector>(model);
        if (c.adapt_threads && c.threads > 1) {
            governor_.emplace(ThreadGovernor::for_this_process(c.threads));
            if (const int n = governor_->threads(); n != c.threads) {
                set_num_threads(n);
                if (c.on_note)
                    c.on_note(
                        fmt::format("this process may run on {0} core{1}: training on {0} "
                                    "thread{1}, not {2} (--adapt-threads off keeps {2})",
                                    n, n == 1 ? "" : "s", c.threads));
            }
        }
    }

    TrainResult run() {
        model_.train();
        for (int epoch = run_.at.epoch; epoch <= c_.epochs && !steps_done(); ++epoch) {
            const bool resumed = run_.resumed && epoch == run_.at.epoch;
            if (!run_epoch(epoch, resumed ? &run_.at : nullptr)) {
                result_.interrupted = true;
                break;
            }
        }
        if (!result_.interrupted && !c_.save_path.empty()) {
            Activity activity(fmt::format("saving the model to {}", c_.save_path));
            same_running_stats();
            if (root_) save_model(c_.save_path, model_, c_.model, &opt_);
        }
        if (!result_.interrupted) run_.log.completed(step_);
        result_.last_step = step_;
        return result_;
    }

    int64_t step() const { return step_; }
    ~Trainer() {
        set_batch_norm_sync(model_, nullptr);
        if (governor_) set_num_threads(c_.threads);  // whatever runs next starts with them all
    }
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

  private:
    // --bn-sync local: the ranks' running statistics made one (their mean) before they are
    // used or written. (Global: they are the same on every rank already.)
    void same_running_stats() {
        if (distributed_ && c_.bn_sync == BnSync::Local) average_running_stats(model_, *comm_);
    }

    bool steps_done() const { return c_.max_steps > 0 && step_ >= c_.max_steps; }

    // One epoch, from its beginning or from where a checkpoint left it; false when a stop
    // request ended it (a checkpoint was written).
    bool run_epoch(int epoch, const ResumePoint* from) {
        const BatchPlan& plan = run_.plan;
        if (from && !from->epoch_rng_state.empty()) data_rng_.set_state(from->epoch_rng_state);
        const std::string epoch_rng_state = data_rng_.state();  // regenerates the order
        const auto order = epoch_order(train_set_.count, &data_rng_);
        ProgressBar bar(fmt::format("{}{}epoch {}/{}", c_.progress_label,
                                    c_.progress_label.empty() ? "" : ", ", epoch, c_.epochs),
                        plan.steps_per_epoch(), c_.log_every, c_.progress);
        const auto start = Clock::now();
        double loss_sum = from ? from->loss_sum : 0.0;
        int64_t epoch_steps = from ? from->epoch_steps : 0;
        for (int64_t first = from ? from->first : 0; first < train_set_.count;
             first += plan.batch) {
            if (steps_done() || !plan.trains(first)) break;
            if (steps_now_ == 0)
                throw_if_stop_requested(
                    "preparing the run, before the first step: nothing was written");
            const int64_t n = std::min(plan.batch, train_set_.count - first);
            const Slice mine = rank_slice(n, comm_->rank(), comm_->size());
            adapt_threads();
            const float loss = train_step(
                make_batch(train_set_, order, first + mine.first, mine.count, c_.model.input), n,
                epoch);
            loss_sum += loss;
            ++epoch_steps;
            bar.update(epoch_steps, loss_sum / double(epoch_steps),
                       double(first + n) / seconds_since(start));

            if (c_.eval_every > 0 && step_ % c_.eval_every == 0) evaluate_now(epoch);
            if (std::find(c_.inspect_at.begin(), c_.inspect_at.end(), step_) != c_.inspect_at.end())
                inspect_now();

            // (Several ranks: a stop asked of any rank, as agreed in the step.)
            const bool stop = distributed_ ? stop_agreed_ : stop_requested();
            if (!c_.checkpoint_path.empty() &&
                (stop || (c_.checkpoint_every > 0 && step_ % c_.checkpoint_every == 0))) {
                same_running_stats();
                run_.log.flush();  // the log's temporary then holds every step the checkpoint has
                const ResumePoint here{epoch,
                                       first + n,
                                       step_,
                                       loss_sum,
                                       epoch_steps,
                                       epoch_rng_state,
                                       training_rng().state()};
                if (root_)
                    save_resume_point(c_.checkpoint_path, run_.settings, c_.model, model_, opt_,
                                      here);
            }
            if (stop) {
                bar.finish();
                run_.log.interrupted(step_, stop_reason(), c_.checkpoint_path);
                return false;
            }
        }
        const double train_seconds = seconds_since(start);
        bar.finish();
        Activity activity(fmt::format("evaluating after epoch {}", epoch));
        same_running_stats();
        const Evaluation ev = evaluate(model_, test_set_, plan.batch, c_.model.input, comm_.get());
        const EpochInfo e{epoch,         epoch_steps ? loss_sum / double(epoch_steps) : 0.0,
                          ev.loss,       ev.accuracy,
                          train_seconds, epoch_steps};
        result_.epochs.push_back(e);
        run_.log.epoch(e);
        return true;
    }

    // --adapt-threads: fewer threads while other processes keep the cores busy
    // (thread_governor.hpp). Only between steps: a kernel splits its work by the thread count
    // as it starts. The first time the count falls, the user is told once.
    void adapt_threads() {
        if (!governor_) return;
        const int before = governor_->threads();
        const int now = governor_->between_steps();
        if (now == before) return;
        set_num_threads(now);
        if (now < c_.threads && !told_fewer_threads_ && c_.on_note) {
            told_fewer_threads_ = true;
            c_.on_note(fmt::format(
                "other processes are keeping this machine's cores busy: training on {} of the {} "
                "threads while they do, from step {} (--adapt-threads off keeps {})",
                now, c_.threads, step_ + 1, c_.threads));
        }
    }

    // The test set in the middle of an epoch (--eval-every): to the log and the caller.
    void evaluate_now(int epoch) {
        Activity activity(fmt::format("evaluating at step {}", step_));
        same_running_stats();
        const Evaluation ev =
            evaluate(model_, test_set_, run_.plan.batch, c_.model.input, comm_.get());
        const EvalInfo e{epoch, step_, ev.loss, ev.accuracy};
        run_.log.eval(e);
        if (c_.on_eval) c_.on_eval(e);
    }

    // --inspect-at: the BatchNorms on the first 128 test images, to the log and the caller.
    void inspect_now() {
        Activity activity(fmt::format("inspecting the BatchNorm layers at step {}", step_));
        const Dataset first = first_images(test_set_, 128);
        const Inspection ins = inspect_batch_norm(model_, first, first.count, c_.model.input, {});
        run_.log.inspect(step_, ins);
        if (c_.on_inspect) c_.on_inspect(step_, ins);
    }

    // One step: forward, zero_grad, backward, update. Returns the loss; a loss or gradient norm
    // that is not finite ends the run (DivergedError) once the step is reported. `b` is this
    // rank's slice of a global batch of `global_n` images (all of it on one process).
    float train_step(const Batch& b, int64_t global_n, int epoch) {
        ++step_;
        ++steps_now_;
        Activity activity(fmt::format("training, step {}", step_));
        opt_.set_lr(run_.schedule.lr_at(step_ - 1));
        if (anomaly_) anomaly_->set_step(step_);
        if (stats_) stats_->begin_step();
        if (grad_sync_) grad_sync_->begin_step();
        float loss_value = 0.f;
        try {
            Tensor loss = cross_entropy(model_(b.images), b.labels);
            loss_value = loss.item();
            if (distributed_) loss = global_loss(loss, b, global_n, &loss_value);
            if (!std::isfinite(loss_value)) {
                autograd::release_tape();
                report(epoch, loss_value, NAN, nullptr);
                throw DivergedError(
                    fmt::format("the loss became {} at step {} (epoch {}): training diverged; "
                                "try a smaller --lr, BatchNorm, --clip, or --detect-anomaly to "
                                "see where it started",
                                loss_value, step_, epoch),
                    step_, "loss");
            }
            opt_.zero_grad();
            autograd::backward(loss);
        } catch (...) {
            autograd::release_tape();  // drop what the failed step recorded
            throw;
        }
        if (grad_sync_) grad_sync_->finish();
        if (stats_) stats_->after_backward();
        // (The statistics already hold the global norm: no second pass over the gradients.)
        const double norm = c_.clip_norm > 0 ? clip_grad_norm(params_, c_.clip_norm)
                            : stats_         ? stats_->current().global_grad_norm
                                             : global_grad_norm(params_);
        if (!std::isfinite(norm)) {
            report(epoch, loss_value, norm, stats_ ? &stats_->current() : nullptr);
            if (anomaly_) anomaly_->explain_norm(params_, norm);
            throw DivergedError(fmt::format("the gradient norm became {} at step {} (epoch {}) "
                                            "while the loss was {}: training diverged; "
                                            "--detect-anomaly names the layer",
                                            norm, step_, epoch, loss_value),
                                step_, "grad_norm");
        }
        if (stats_) stats_->before_update();
        opt_.step();
        if (stats_) stats_->after_update();
        result_.losses.push_back(loss_value);
        report(epoch, loss_value, norm, stats_ ? &stats_->current() : nullptr);
        return loss_value;
    }

    // Several ranks: `loss` is the mean over this rank's n_r images of a global batch of n.
    // Sets *value to the global batch's mean loss (and stop_agreed_ to whether any rank was
    // asked to stop) and returns the loss to differentiate: n_r * ranks / n times this rank's,
    // so that the mean of the ranks' gradients (grad_sync.hpp) is the global batch's gradient
    // when the slices are uneven too (with equal slices the factor is 1).
    Tensor global_loss(const Tensor& loss, const Batch& b, int64_t n, float* value) {
        const auto mine = static_cast<double>(b.labels.size());
        double sums[2] = {double(*value) * mine, stop_requested() ? 1.0 : 0.0};
        comm_->all_reduce_sum(sums);
        *value = static_cast<float>(sums[0] / double(n));
        stop_agreed_ = sums[1] > 0;
        const auto factor = static_cast<float>(mine * comm_->size() / double(n));
        return factor == 1.f ? loss : scale(loss, factor);
    }

    // The step to whoever watches: the caller's on_step and the log (rank 0's alone).
    void report(int epoch, float loss, double norm, const StepStats* stats) {
        const StepInfo info{epoch, step_, loss, opt_.lr(), norm, stats};
        if (on_step_ && root_) on_step_(info);
        run_.log.step(info);
    }

    const TrainConfig& c_;
    Sequential& model_;
    const Dataset& train_set_;
    const Dataset& test_set_;
    const std::function<void(const StepInfo&)>& on_step_;
    PreparedRun& run_;
    Optimizer& opt_;
    const std::vector<Parameter> params_;
    Rng data_rng_;
    std::shared_ptr<const Communicator> comm_;
    bool distributed_, root_;
    std::unique_ptr<GradSync> grad_sync_;
    bool stop_agreed_ = false;
    std::unique_ptr<GradStats> stats_;
    std::unique_ptr<AnomalyDetector> anomaly_;
    std::optional<ThreadGovernor> governor_;
    bool told_fewer_threads_ = false;
    TrainResult result_;
    int64_t step_ = 0;
    int64_t steps_now_ = 0;  // steps of this invocation
};

// What several ranks cannot do, refused on every rank alike before anything starts.
void check_data_parallel(const TrainConfig& c, const Communicator& comm) {
    if (c.batch < comm.size())
        throw SetupError(fmt::format(
            "--batch {} on {} ranks: every rank needs at least one image of each batch (--batch "
            "is the global batch, shared out among the ranks)",
            c.batch, comm.size()));
    if (!c.inspect_at.empty())
        throw SetupError(
            "--inspect-at runs on one process only (normgrad inspect --load on the saved model "
            "shows the same)");
}

// --bn-sync local: each rank normalises its own slice, so the smallest slice of a batch must be
// one the model can train on (a slice of 1 has no variance).
void check_local_slices(const TrainConfig& c, Sequential& model, const PreparedRun& run,
                        const Dataset& train_set) {
    const int ranks = c.comm->size();
    for (const int64_t n : {run.plan.batch, run.plan.skip_last ? run.plan.batch : run.plan.last}) {
        const int64_t smallest = n / ranks;
        if (const std::string why =
                training_forward_problem(model, smallest, train_set.rows, train_set.cols);
            !why.empty())
            throw SetupError(fmt::format(
                "--bn-sync local on {} ranks: a batch of {} gives a rank {} image{}, which the "
                "model cannot train on ({}); use --bn-sync global (SyncBatchNorm: the statistics "
                "of the whole batch), a larger --batch{}",
                ranks, n, smallest, smallest == 1 ? "" : "s", why,
                n == run.plan.batch ? "" : ", or --drop-last (it is the last batch of an epoch)"));
    }
}

}  // namespace

void request_stop() {
    normgrad::request_stop();
}

TrainResult train(const TrainConfig& config, Sequential& model, const Dataset& train_set,
                  const Dataset& test_set, const std::function<void(const StepInfo&)>& on_step) {
    TrainConfig c = config;
    const Communicator& comm = c.comm ? *c.comm : *local_communicator();
    if (comm.size() > 1) {
        check_data_parallel(c, comm);
        if (comm.rank() != 0) {  // rank 0 alone writes the log and tells
            c.log_path.clear();
            c.progress = false;
            c.on_note = {};
            c.on_eval = {};
            c.on_inspect = {};
        }
    }
    // Every rank prepares; when one cannot, all stop (none waits for the others in a collective).
    std::optional<PreparedRun> prepared;
    std::exception_ptr failed;
    try {
        prepared.emplace(prepare_run(c, model, train_set, test_set));
    } catch (...) {
        failed = std::current_exception();
    }
    if (comm.size() > 1) {
        double failures[1] = {failed ? 1.0 : 0.0};
        comm.all_reduce_sum(failures);
        if (!failed && failures[0] > 0)
            throw SetupError(
                fmt::format("{} of the {} ranks could not prepare the run (their message is above)",
                            failures[0], comm.size()));
    }
    if (failed) std::rethrow_exception(failed);
    PreparedRun& run = *prepared;
    if (comm.size() > 1 && c.bn_sync == BnSync::Local) check_local_slices(c, model, run, train_set);
    Trainer trainer(c, model, train_set, test_set, on_step, run);
    try {
        return trainer.run();
    } catch (const DivergedError& e) {
        run.log.diverged(e.step, e.value, e.what());
        throw;
    } catch (const AnomalyError& e) {
        run.log.failed("anomaly", trainer.step(), e.what());
        throw;
    } catch (const StopRequested&) {
        throw;  // before the first step: no log, nothing written
    } catch (const std::exception& e) {
        const std::string where = failed_activity();
        run.log.failed("error", trainer.step(),
                       where.empty() ? e.what() : fmt::format("{} (while {})", e.what(), where));
        throw;
    }
}

}  // namespace normgrad::train
