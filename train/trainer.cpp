// The training loop: forward, zero_grad, backward, update, step after step; around it the
// pieces that make a run safe to stop and to continue: the batch plan checked before the first
// step, the log, checkpoints, and an end record however the run ends.
#include "normgrad/train/trainer.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "normgrad/activity.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/cross_entropy.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/safetensors.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/anomaly.hpp"
#include "normgrad/train/batch_plan.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/json_text.hpp"
#include "normgrad/train/model_io.hpp"
#include "normgrad/train/progress.hpp"
#include "normgrad/train/run_log.hpp"
#include "normgrad/train/run_settings.hpp"

namespace normgrad::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

LrSchedule make_schedule(const TrainConfig& c, int64_t total_steps) {
    LrSchedule s;
    s.base_lr = c.lr;
    s.warmup_steps = c.warmup_steps;
    if (c.schedule == "constant") {
        s.kind = LrSchedule::Kind::Constant;
    } else if (c.schedule == "cosine") {
        s.kind = LrSchedule::Kind::Cosine;
        s.total_steps = std::max<int64_t>(1, total_steps - c.warmup_steps);
    } else if (c.schedule == "step") {
        // Divide the learning rate by 10 after each third of the run.
        s.kind = LrSchedule::Kind::Step;
        s.step_size = std::max<int64_t>(1, (total_steps - c.warmup_steps) / 3);
        s.gamma = 0.1f;
    } else {
        throw std::invalid_argument(
            fmt::format("unknown schedule '{}' (expected constant, step or cosine)", c.schedule));
    }
    s.validate();
    return s;
}

// The weights of a model file, for a new run that starts from them (--init-from).
std::string load_initial_weights(const TrainConfig& c, Module& model) {
    const LoadedModel m = load_model(c.init_from);
    const ModelSpec& a = m.spec;
    const ModelSpec& b = c.model;
    const auto describe = [](const ModelSpec& s) {
        return fmt::format(
            "{}{} with BatchNorm {}, activation {}, images {}x{}", s.kind,
            s.kind == "mlp" ? fmt::format(" (hidden {}, depth {})", s.hidden, s.depth) : "",
            s.batchnorm ? "on" : "off", to_string(s.activation), s.image_rows, s.image_cols);
    };
    if (describe(a) != describe(b))
        throw SetupError(
            fmt::format("--init-from {}: the file holds a {}, but the flags describe "
                        "a {}",
                        c.init_from, describe(a), describe(b)));
    Checkpoint weights;
    weights.tensors = m.model->state();
    copy_into(weights, model.state(), c.init_from);
    return m.checksum;
}

std::string end_record(std::string_view status, int64_t step, const std::string& extra = "") {
    return fmt::format(R"({{"type":"end","status":"{}","step":{}{}}})", status, step, extra);
}

// Writes the end record of a run that failed; a log that cannot be finished must not hide the
// failure being reported, so its own error is dropped.
void finish_quietly(RunLog& log, const std::string& record) {
    try {
        log.finish(record);
    } catch (const std::exception&) {
    }
}

}  // namespace

void request_stop() {
    normgrad::request_stop();
}

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, const Module& model) {
    if (c.optimizer == "sgd") {
        SgdOptions o;
        o.lr = c.lr;
        o.momentum = c.momentum;
        o.nesterov = c.nesterov;
        o.weight_decay = c.weight_decay;
        o.exclude_bias_and_norm_from_decay = !c.decay_bias_and_norm;
        return std::make_unique<Sgd>(model.parameters(), o);
    }
    if (c.optimizer == "adam" || c.optimizer == "adamw") {
        AdamOptions o;
        o.lr = c.lr;
        o.weight_decay = c.weight_decay;
        o.decoupled_weight_decay = c.optimizer == "adamw";
        o.exclude_bias_and_norm_from_decay = !c.decay_bias_and_norm;
        return std::make_unique<Adam>(model.parameters(), o);
    }
    throw std::invalid_argument(
        fmt::format("unknown optimizer '{}' (expected sgd, adam or adamw)", c.optimizer));
}

Evaluation evaluate(Module& model, const Dataset& data, int64_t batch) {
    autograd::NoGradGuard no_grad;
    const bool was_training = model.is_training();
    model.eval();
    const auto order = epoch_order(data.count, nullptr);
    int64_t correct = 0;
    double loss_sum = 0.0;
    for (int64_t first = 0; first < data.count; first += batch) {
        const int64_t n = std::min(batch, data.count - first);
        Batch b = make_batch(data, order, first, n);
        Tensor logits = model(b.images);
        const int64_t K = logits.dim(1);
        const float* z = logits.data();
        for (int64_t i = 0; i < n; ++i) {
            const float* row = z + i * K;
            const int64_t pred = std::max_element(row, row + K) - row;
            const int32_t label = b.labels[size_t(i)];
            correct += pred == label;
            // Cross-entropy: log(sum_k exp(z_k)) - z_label, with the maximum taken out first.
            double sum = 0.0;
            for (int64_t k = 0; k < K; ++k) sum += std::exp(double(row[k]) - double(row[pred]));
            loss_sum += double(row[pred]) + std::log(sum) - double(row[label]);
        }
    }
    model.train(was_training);
    if (data.count == 0) return {};
    return {double(correct) / double(data.count), loss_sum / double(data.count)};
}

TrainResult train(const TrainConfig& config, Sequential& model, const Dataset& train_set,
                  const Dataset& test_set, const std::function<void(const StepInfo&)>& on_step) {
    TrainConfig c = config;
    if (c.epochs < 1)
        throw SetupError(fmt::format("--epochs must be at least 1, got {}", c.epochs));
    if (c.batch < 1) throw SetupError(fmt::format("--batch must be at least 1, got {}", c.batch));
    if (test_set.rows != train_set.rows || test_set.cols != train_set.cols)
        throw SetupError(fmt::format("the test images are {}x{} but the training images {}x{}",
                                     test_set.rows, test_set.cols, train_set.rows, train_set.cols));
    auto note = [&](const std::string& s) {
        if (c.on_note) c.on_note(s);
    };
    set_num_threads(c.threads);

    // Everything that can refuse the run, before anything is written.
    const BatchPlan plan = plan_batches(model, train_set, c.batch, c.drop_last);
    if (plan.skip_last) note(plan.skip_reason);
    const int64_t steps_per_epoch = plan.steps_per_epoch();
    if (steps_per_epoch < 1) throw SetupError("no batch of the training set can be trained on");
    const int64_t planned = c.max_steps > 0 ? std::min(c.max_steps, steps_per_epoch * c.epochs)
                                            : steps_per_epoch * c.epochs;
    const LrSchedule schedule = make_schedule(c, planned);
    std::unique_ptr<Optimizer> opt = make_optimizer(c, model);
    if (!c.init_from.empty()) {
        if (!c.resume_path.empty())
            throw SetupError(
                "--init-from and --resume exclude each other: a resumed run takes "
                "its weights from the checkpoint");
        c.init_from_identity = load_initial_weights(c, model);
    }
    const RunSettings settings = run_settings(c, train_set, planned);

    // Where the run starts: the beginning, or the position a checkpoint recorded.
    ResumePoint at;
    const bool resumed = !c.resume_path.empty();
    if (resumed) {
        try {
            at = load_resume_point(c.resume_path, settings, model, *opt);
        } catch (const CheckpointError&) {
            throw;
        } catch (const std::invalid_argument& e) {
            throw SetupError(e.what());
        }
        if (at.epoch > c.epochs || (c.max_steps > 0 && at.step >= c.max_steps))
            throw SetupError(fmt::format(
                "--resume {}: the checkpoint is at step {} (epoch {}), already as far as "
                "--epochs {}{} asks: there is nothing left to train (give a larger --epochs to "
                "continue)",
                c.resume_path, at.step, at.epoch, c.epochs,
                c.max_steps > 0 ? fmt::format(" --max-steps {}", c.max_steps) : ""));
    }
    throw_if_stop_requested("preparing the run, before the first step: nothing was written");
    const LogPosition log_from{at.step, at.epoch};
    RunLog log;
    try {
        log = RunLog(c.log_path, settings, resumed ? &log_from : nullptr);
    } catch (const std::invalid_argument& e) {
        throw SetupError(e.what());
    }
    if (resumed && log.enabled() && log.continued_steps() < at.step)
        note(log.continued_steps() == 0
                 ? fmt::format("--log {}: no earlier log of this run was found, so the log "
                               "starts at step {}",
                               c.log_path, at.step + 1)
                 : fmt::format("--log {}: the earlier log holds {} of the {} steps done; the "
                               "continued log lacks the others",
                               c.log_path, log.continued_steps(), at.step));
    else if (resumed && log.enabled())
        note(fmt::format("--log {}: continuing the log from {} (steps 1-{})", c.log_path,
                         log.continued_from(), at.step));

    const std::vector<Parameter> params = model.parameters();
    Rng data_rng = data_order_rng(c.seed);
    std::unique_ptr<GradStats> stats =
        c.grad_stats ? std::make_unique<GradStats>(model, *opt) : nullptr;
    std::unique_ptr<AnomalyDetector> anomaly =
        c.detect_anomaly ? std::make_unique<AnomalyDetector>(model) : nullptr;

    TrainResult result;
    int64_t step = at.step;
    int64_t steps_now = 0;  // steps of this invocation
    model.train();
    try {
        for (int epoch = at.epoch; epoch <= c.epochs && (c.max_steps == 0 || step < c.max_steps);
             ++epoch) {
            const bool resumed_epoch = epoch == at.epoch && !at.epoch_rng_state.empty();
            if (resumed_epoch) data_rng.set_state(at.epoch_rng_state);
            const std::string epoch_rng_state = data_rng.state();  // regenerates the order
            const auto order = epoch_order(train_set.count, &data_rng);
            ProgressBar bar(fmt::format("{}{}epoch {}/{}", c.progress_label,
                                        c.progress_label.empty() ? "" : ", ", epoch, c.epochs),
                            steps_per_epoch, c.log_every, c.progress);
            const auto start = Clock::now();
            double loss_sum = resumed_epoch ? at.loss_sum : 0.0;
            int64_t epoch_steps = resumed_epoch ? at.epoch_steps : 0;
            for (int64_t first = resumed_epoch ? at.first : 0; first < train_set.count;
                 first += plan.batch) {
                if (c.max_steps > 0 && step >= c.max_steps) break;
                if (!plan.trains(first)) break;
                if (steps_now == 0)
                    throw_if_stop_requested(
                        "preparing the run, before the first step: nothing "
                        "was written");
                const int64_t n = std::min(plan.batch, train_set.count - first);
                ++step;
                ++steps_now;
                Activity activity(fmt::format("training, step {}", step));
                opt->set_lr(schedule.lr_at(step - 1));
                Batch b = make_batch(train_set, order, first, n);
                if (anomaly) anomaly->set_step(step);
                if (stats) stats->begin_step();
                float loss_value = 0.f;
                try {
                    Tensor loss = cross_entropy(model(b.images), b.labels);
                    loss_value = loss.item();
                    if (std::isfinite(loss_value)) {
                        opt->zero_grad();
                        autograd::backward(loss);
                    }
                } catch (...) {
                    autograd::release_tape();  // drop what the failed step recorded
                    set_forward_observer(nullptr);
                    throw;
                }
                auto log_step = [&](double norm, const StepStats* s) {
                    const StepInfo info{epoch, step, loss_value, opt->lr(), norm, s};
                    if (on_step) on_step(info);
                    if (log.enabled())
                        log.line(fmt::format(
                            R"({{"type":"step","epoch":{},"step":{},"loss":{},"lr":{},"grad_norm":{}{}}})",
                            epoch, step, json_number(loss_value), json_number(opt->lr()),
                            json_number(norm), s ? ",\"layers\":" + s->json() : ""));
                };
                if (!std::isfinite(loss_value)) {
                    set_forward_observer(nullptr);
                    log_step(NAN, nullptr);
                    throw DivergedError(
                        fmt::format("the loss became {} at step {} (epoch {}): training "
                                    "diverged; try a smaller --lr, BatchNorm, --clip, or "
                                    "--detect-anomaly to see where it started",
                                    loss_value, step, epoch),
                        step, "loss");
                }
                if (stats) stats->after_backward();
                // (The statistics already hold the global norm: no second pass over the
                // gradients.)
                const double norm = c.clip_norm > 0 ? clip_grad_norm(params, c.clip_norm)
                                    : stats         ? stats->current().global_grad_norm
                                                    : global_grad_norm(params);
                if (!std::isfinite(norm)) {
                    log_step(norm, stats ? &stats->current() : nullptr);
                    if (anomaly) anomaly->explain_norm(params, norm);
                    throw DivergedError(
                        fmt::format("the gradient norm became {} at step {} (epoch {}) while "
                                    "the loss was {}: training diverged; --detect-anomaly "
                                    "names the layer",
                                    norm, step, epoch, loss_value),
                        step, "grad_norm");
                }
                opt->step();
                if (stats) stats->after_update();

                loss_sum += loss_value;
                ++epoch_steps;
                result.losses.push_back(loss_value);
                log_step(norm, stats ? &stats->current() : nullptr);
                bar.update(epoch_steps, loss_sum / double(epoch_steps),
                           double(first + n) / seconds_since(start));

                const bool stop = stop_requested();
                if (!c.checkpoint_path.empty() &&
                    (stop || (c.checkpoint_every > 0 && step % c.checkpoint_every == 0))) {
                    log.flush();  // the log's temporary then holds every step the checkpoint has
                    const ResumePoint here{epoch,    first + n,   step,
                                           loss_sum, epoch_steps, epoch_rng_state};
                    save_resume_point(c.checkpoint_path, settings, c.model, model, *opt, here);
                }
                if (stop) {
                    bar.finish();
                    log.finish(end_record(
                        "interrupted", step,
                        fmt::format(
                            R"(,"signal":"{}","checkpoint":{})", stop_reason(),
                            c.checkpoint_path.empty() ? "null" : json_string(c.checkpoint_path))));
                    result.interrupted = true;
                    result.last_step = step;
                    return result;
                }
            }
            const double train_seconds = seconds_since(start);
            bar.finish();
            Activity activity(fmt::format("evaluating after epoch {}", epoch));
            const Evaluation ev = evaluate(model, test_set, plan.batch);
            const EpochInfo e{epoch,         epoch_steps ? loss_sum / double(epoch_steps) : 0.0,
                              ev.loss,       ev.accuracy,
                              train_seconds, epoch_steps};
            result.epochs.push_back(e);
            log.line(fmt::format(
                R"({{"type":"epoch","epoch":{},"steps":{},"train_loss":{},"test_loss":{},"test_accuracy":{},"train_seconds":{}}})",
                epoch, e.steps, json_number(e.train_loss), json_number(e.test_loss),
                json_number(e.test_accuracy), json_number(e.train_seconds)));
        }
        if (!c.save_path.empty()) {
            Activity activity(fmt::format("saving the model to {}", c.save_path));
            save_model(c.save_path, model, c.model, opt.get());
        }
    } catch (const DivergedError& e) {
        finish_quietly(log, end_record("diverged", e.step,
                                       fmt::format(R"(,"value":"{}","message":{})", e.value,
                                                   json_string(e.what()))));
        throw;
    } catch (const AnomalyError& e) {
        finish_quietly(log, end_record("anomaly", step,
                                       fmt::format(R"(,"message":{})", json_string(e.what()))));
        throw;
    } catch (const StopRequested&) {
        throw;  // before the first step: no log, nothing written
    } catch (const std::exception& e) {
        const std::string where = failed_activity();
        finish_quietly(
            log,
            end_record("error", step,
                       fmt::format(R"(,"message":{})",
                                   json_string(where.empty() ? e.what()
                                                             : fmt::format("{} (while {})",
                                                                           e.what(), where)))));
        throw;
    }
    log.finish(end_record("completed", step));
    result.last_step = step;
    return result;
}

}  // namespace normgrad::train
