// The optimizer and the learning-rate schedule a TrainConfig asks for.
#pragma once

#include <cstdint>
#include <memory>

#include "normgrad/module.hpp"
#include "normgrad/optim.hpp"

namespace normgrad::train {

struct TrainConfig;

// sgd (momentum, Nesterov, weight decay), adam or adamw over the model's parameters.
std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, const Module& model);
// constant, step (lr / 10 after each third of the run) or cosine, after the warm-up; the run
// is `total_steps` long.
LrSchedule make_schedule(const TrainConfig& c, int64_t total_steps);

}  // namespace normgrad::train
