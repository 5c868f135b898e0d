// One training run of a study: a model trained as configured, from Rng(seed), and what the
// study tables need of it.
#pragma once

#include <cstdint>

#include "normgrad/idx.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

struct PointResult {
    double test_accuracy = 0;   // evaluation mode, the whole test set, at the end (or divergence)
    double last_loss = 0;       // the last finite training loss
    int64_t steps = 0;          // steps taken
    int64_t diverged_step = 0;  // first step whose loss or gradient norm was not finite (0: none)
    double seconds = 0;         // training and the final evaluation
    bool interrupted = false;   // a stop request (stop.hpp) ended it
};

// Trains c.model (built with Rng(c.seed)) on `train_set` as `c` says (no log, no checkpoint, no
// model file, no gradient statistics) and evaluates it on `test_set`. A run that diverges is a
// result, not an error.
PointResult train_point(TrainConfig c, const Dataset& train_set, const Dataset& test_set);

}  // namespace normgrad::train
