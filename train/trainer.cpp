#include "normgrad/train/trainer.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>

#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/train/anomaly.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/jsonl_log.hpp"
#include "normgrad/train/progress.hpp"

namespace normgrad::train {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> stop_requested{false};

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

}  // namespace

void request_stop() {
    stop_requested.store(true);
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

double evaluate(Module& model, const Dataset& data, int64_t batch) {
    autograd::NoGradGuard no_grad;
    const bool was_training = model.is_training();
    model.eval();
    const auto order = epoch_order(data.count, nullptr);
    int64_t correct = 0;
    for (int64_t first = 0; first < data.count; first += batch) {
        const int64_t n = std::min(batch, data.count - first);
        Batch b = make_batch(data, order, first, n);
        Tensor logits = model(b.images);
        const int64_t K = logits.dim(1);
        const float* z = logits.data();
        for (int64_t i = 0; i < n; ++i) {
            const float* row = z + i * K;
            const int64_t pred = std::max_element(row, row + K) - row;
            correct += pred == b.labels[size_t(i)];
        }
    }
    model.train(was_training);
    return data.count ? static_cast<double>(correct) / static_cast<double>(data.count) : 0.0;
}

TrainResult train(const TrainConfig& c, Sequential& model, const Dataset& train_set,
                  const Dataset& test_set, const std::function<void(const StepInfo&)>& on_step) {
    if (c.epochs < 1)
        throw std::invalid_argument(fmt::format("--epochs must be at least 1, got {}", c.epochs));
    if (c.batch < 1)
        throw std::invalid_argument(fmt::format("--batch must be at least 1, got {}", c.batch));
    set_num_threads(c.threads);
    std::unique_ptr<Optimizer> opt = make_optimizer(c, model);
    const int64_t steps_per_epoch = (train_set.count + c.batch - 1) / c.batch;
    const int64_t planned = c.max_steps > 0 ? std::min(c.max_steps, steps_per_epoch * c.epochs)
                                            : steps_per_epoch * c.epochs;
    const LrSchedule schedule = make_schedule(c, planned);
    const std::vector<Parameter> params = model.parameters();
    JsonlLog log(c.log_path);
    Rng data_rng = data_order_rng(c.seed);
    std::unique_ptr<GradStats> stats =
        c.grad_stats ? std::make_unique<GradStats>(model, *opt) : nullptr;
    std::unique_ptr<AnomalyDetector> anomaly =
        c.detect_anomaly ? std::make_unique<AnomalyDetector>(model) : nullptr;

    // Where the run starts: the beginning, or the position a checkpoint recorded.
    ResumePoint at;
    if (!c.resume_path.empty()) at = load_resume_point(c.resume_path, c, model, *opt);
    stop_requested.store(false);

    TrainResult result;
    int64_t step = at.step;
    model.train();
    for (int epoch = at.epoch; epoch <= c.epochs && (c.max_steps == 0 || step < c.max_steps);
         ++epoch) {
        const bool resumed_epoch = epoch == at.epoch && !at.epoch_rng_state.empty();
        if (resumed_epoch) data_rng.set_state(at.epoch_rng_state);
        const std::string epoch_rng_state = data_rng.state();  // regenerates this epoch's order
        const auto order = epoch_order(train_set.count, &data_rng);
        ProgressBar bar(fmt::format("epoch {}/{}", epoch, c.epochs), steps_per_epoch, c.progress);
        const auto start = Clock::now();
        double loss_sum = resumed_epoch ? at.loss_sum : 0.0;
        int64_t epoch_steps = resumed_epoch ? at.epoch_steps : 0;
        for (int64_t first = resumed_epoch ? at.first : 0; first < train_set.count;
             first += c.batch) {
            if (c.max_steps > 0 && step >= c.max_steps) break;
            const int64_t n = std::min(c.batch, train_set.count - first);
            // BatchNorm cannot train on one sample; PyTorch would fail here. Skip that remnant.
            if (n == 1 && c.model.batchnorm) break;
            ++step;
            opt->set_lr(schedule.lr_at(step - 1));
            Batch b = make_batch(train_set, order, first, n);
            if (anomaly) anomaly->set_step(step);
            if (stats) stats->begin_step();
            float loss_value = 0.f;
            double norm = 0.0;
            try {
                Tensor loss = cross_entropy(model(b.images), b.labels);
                loss_value = loss.item();
                if (!std::isfinite(loss_value))
                    throw DivergedError(
                        fmt::format("the loss became {} at step {} (epoch {}): training diverged; "
                                    "try a smaller --lr, BatchNorm, --clip, or --detect-anomaly to "
                                    "see where it started",
                                    loss_value, step, epoch),
                        step);
                opt->zero_grad();
                autograd::backward(loss);
            } catch (...) {
                autograd::release_tape();  // drop what the failed step recorded
                set_forward_observer(nullptr);
                throw;
            }
            if (stats) stats->after_backward();
            // (The statistics already hold the global norm: no second pass over the gradients.)
            norm = c.clip_norm > 0 ? clip_grad_norm(params, c.clip_norm)
                   : stats         ? stats->current().global_grad_norm
                                   : global_grad_norm(params);
            if (!std::isfinite(norm))
                throw DivergedError(fmt::format("the gradient norm became {} at step {} (epoch {}) "
                                                "while the loss was {}: training diverged",
                                                norm, step, epoch, loss_value),
                                    step);
            opt->step();
            if (stats) stats->after_update();

            loss_sum += loss_value;
            ++epoch_steps;
            result.losses.push_back(loss_value);
            const StepInfo info{epoch,     step, loss_value,
                                opt->lr(), norm, stats ? &stats->current() : nullptr};
            if (on_step) on_step(info);
            if (log.enabled())
                log.line(fmt::format(
                    R"({{"type":"step","epoch":{},"step":{},"loss":{},"lr":{},"grad_norm":{}{}}})",
                    epoch, step, json_number(loss_value), json_number(opt->lr()), json_number(norm),
                    stats ? ",\"layers\":" + stats->current().json() : ""));
            bar.update(first + n == train_set.count ? steps_per_epoch : epoch_steps,
                       loss_sum / double(epoch_steps), double(first + n) / seconds_since(start));

            const bool stop = stop_requested.load();
            if (stop || (c.checkpoint_every > 0 && step % c.checkpoint_every == 0)) {
                const ResumePoint here{epoch,    first + n,   step,
                                       loss_sum, epoch_steps, epoch_rng_state};
                save_resume_point(c.checkpoint_path, c, model, *opt, here);
            }
            if (stop) {
                bar.finish();
                log.close();
                result.interrupted = true;
                result.last_step = step;
                return result;
            }
        }
        const double train_seconds = seconds_since(start);
        bar.finish();
        const double accuracy = evaluate(model, test_set, c.batch);
        const EpochInfo e{epoch, epoch_steps ? loss_sum / double(epoch_steps) : 0.0, accuracy,
                          train_seconds, epoch_steps};
        result.epochs.push_back(e);
        if (log.enabled())
            log.line(fmt::format(
                R"({{"type":"epoch","epoch":{},"steps":{},"train_loss":{},"test_accuracy":{},"train_seconds":{}}})",
                epoch, e.steps, json_number(e.train_loss), json_number(e.test_accuracy),
                json_number(e.train_seconds)));
    }
    log.close();
    if (!c.save_path.empty()) save_model(c.save_path, model, c.model, opt.get());
    result.last_step = step;
    return result;
}

}  // namespace normgrad::train
