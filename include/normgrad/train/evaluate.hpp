// Test accuracy and loss of a model.
#pragma once

#include <cstdint>

#include "normgrad/communicator.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/module.hpp"
#include "normgrad/train/batches.hpp"

namespace normgrad::train {

struct Evaluation {
    double accuracy = 0.0;  // fraction classified correctly
    double loss = 0.0;      // mean cross-entropy
};

// `data` in evaluation mode and without the tape. The batch size changes nothing but memory:
// after training, the training batch size (the default, 128) reuses the buffers training left
// in the pool instead of allocating larger ones. `scaling` must be the one the model was trained
// with (ModelSpec::input). With `comm` (several ranks training one model, the same on each),
// each rank evaluates its share of `data` (rank_slice, data_parallel.hpp) and every rank gets
// the result over all of it. Collective then.
Evaluation evaluate(Module& model, const Dataset& data, int64_t batch = 128,
                    InputScaling scaling = InputScaling::Standardize,
                    const Communicator* comm = nullptr);

}  // namespace normgrad::train
