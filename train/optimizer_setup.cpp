#include "normgrad/train/optimizer_setup.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

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

}  // namespace normgrad::train
