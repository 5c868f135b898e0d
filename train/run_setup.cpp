#include "run_setup.hpp"

#include <fmt/format.h>

#include "normgrad/parallel.hpp"
#include "normgrad/safetensors.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/optimizer_setup.hpp"

namespace normgrad::train {

namespace {

// The weights of a model file, for a new run that starts from them (--init-from).
std::string load_initial_weights(const TrainConfig& c, Module& model) {
    const LoadedModel m = load_model(c.init_from);
    const auto model_of = [](const ModelSpec& s) {
        return fmt::format("model {} with {}, activation {}, images {}x{}", spec_text(s),
                           describe(s.norm), to_string(s.activation), s.image_rows, s.image_cols);
    };
    if (model_of(m.spec) != model_of(c.model))
        throw SetupError(
            fmt::format("--init-from {}: the file holds a {}, but the flags describe a {}",
                        c.init_from, model_of(m.spec), model_of(c.model)));
    Checkpoint weights;
    weights.tensors = m.model->state();
    copy_into(weights, model.state(), c.init_from);
    return m.checksum;
}

// The position a checkpoint recorded, refused when it belongs to another run or when nothing
// is left to train.
ResumePoint resume_point(const TrainConfig& c, const RunSettings& settings, Module& model,
                         Optimizer& opt) {
    ResumePoint at;
    try {
        at = load_resume_point(c.resume_path, settings, model, opt);
    } catch (const CheckpointError&) {
        throw;
    } catch (const std::invalid_argument& e) {
        throw SetupError(e.what());
    }
    if (at.epoch > c.epochs || (c.max_steps > 0 && at.step >= c.max_steps))
        throw SetupError(fmt::format(
            "--resume {}: the checkpoint is at step {} (epoch {}), already as far as --epochs "
            "{}{} asks: there is nothing left to train (give a larger --epochs to continue)",
            c.resume_path, at.step, at.epoch, c.epochs,
            c.max_steps > 0 ? fmt::format(" --max-steps {}", c.max_steps) : ""));
    return at;
}

void note(const TrainConfig& c, const std::string& s) {
    if (c.on_note) c.on_note(s);
}

}  // namespace

PreparedRun prepare_run(TrainConfig& c, Sequential& model, const Dataset& train_set,
                        const Dataset& test_set) {
    if (c.epochs < 1)
        throw SetupError(fmt::format("--epochs must be at least 1, got {}", c.epochs));
    if (c.batch < 1) throw SetupError(fmt::format("--batch must be at least 1, got {}", c.batch));
    if (test_set.rows != train_set.rows || test_set.cols != train_set.cols)
        throw SetupError(fmt::format("the test images are {}x{} but the training images {}x{}",
                                     test_set.rows, test_set.cols, train_set.rows, train_set.cols));
    if (!c.init_from.empty() && !c.resume_path.empty())
        throw SetupError(
            "--init-from and --resume exclude each other: a resumed run takes its weights from "
            "the checkpoint");
    set_num_threads(c.threads);

    PreparedRun r;
    r.plan = plan_batches(model, train_set, c.batch, c.drop_last);
    if (r.plan.skip_last) note(c, r.plan.skip_reason);
    const int64_t per_epoch = r.plan.steps_per_epoch();
    if (per_epoch < 1) throw SetupError("no batch of the training set can be trained on");
    r.planned_steps =
        c.max_steps > 0 ? std::min(c.max_steps, per_epoch * c.epochs) : per_epoch * c.epochs;
    r.schedule = make_schedule(c, r.planned_steps);
    r.optimizer = make_optimizer(c, model);
    if (!c.init_from.empty()) c.init_from_identity = load_initial_weights(c, model);
    r.settings = run_settings(c, train_set, r.planned_steps);
    r.resumed = !c.resume_path.empty();
    if (r.resumed) r.at = resume_point(c, r.settings, model, *r.optimizer);
    throw_if_stop_requested("preparing the run, before the first step: nothing was written");

    const LogPosition log_from{r.at.step, r.at.epoch};
    try {
        r.log = RunLog(c.log_path, r.settings, r.resumed ? &log_from : nullptr);
    } catch (const std::invalid_argument& e) {
        throw SetupError(e.what());
    }
    if (r.resumed && r.log.enabled()) {
        if (r.log.continued_steps() == 0)
            note(c, fmt::format("--log {}: no earlier log of this run was found, so the log "
                                "starts at step {}",
                                c.log_path, r.at.step + 1));
        else if (r.log.continued_steps() < r.at.step)
            note(c, fmt::format("--log {}: the earlier log holds {} of the {} steps done; the "
                                "continued log lacks the others",
                                c.log_path, r.log.continued_steps(), r.at.step));
        else
            note(c, fmt::format("--log {}: continuing the log from {} (steps 1-{})", c.log_path,
                                r.log.continued_from(), r.at.step));
    }
    return r;
}

}  // namespace normgrad::train
