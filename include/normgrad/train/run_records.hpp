// What a training run reports as it goes: one record per step and one per epoch.
#pragma once

#include <cstdint>

#include "normgrad/train/grad_stats.hpp"

namespace normgrad::train {

struct StepInfo {
    int epoch;     // 1-based
    int64_t step;  // global, 1-based
    float loss;
    float lr;
    double grad_norm;        // global L2 norm of all parameter gradients, before clipping
    const StepStats* stats;  // per-layer statistics (null when grad_stats is off or the loss
                             // was not finite, so no backward pass ran)
};

struct EpochInfo {
    int epoch;
    double train_loss;     // mean over the epoch's steps
    double test_loss;      // mean cross-entropy over the test set
    double test_accuracy;  // in [0, 1]
    double train_seconds;  // the training loop alone: no evaluation, no data loading
    int64_t steps;
};

// The test set evaluated during training (--eval-every), after `step`.
struct EvalInfo {
    int epoch;
    int64_t step;
    double test_loss;
    double test_accuracy;
};

}  // namespace normgrad::train
