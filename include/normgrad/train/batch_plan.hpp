// How an epoch is cut into batches, checked against the model before the first step.
//
// The check runs the model's forward pass in training mode on a batch of each size the epoch
// will use (zeros of the data's image size, without the tape; buffers such as BatchNorm's
// running statistics are put back afterwards). So whatever a layer cannot take is found at
// start-up, naming the layer: one value per feature for BatchNorm1d (a batch of 1, which has no
// variance), images of a size the model was not built for.
#pragma once

#include <cstdint>
#include <string>

#include "normgrad/idx.hpp"
#include "normgrad/layers/sequential.hpp"

namespace normgrad::train {

struct BatchPlan {
    int64_t count = 0;       // training images
    int64_t batch = 0;       // images per step (at most count)
    int64_t last = 0;        // images in the last batch of an epoch (== batch when it is full)
    bool skip_last = false;  // the last batch is partial and not trained on
    std::string skip_reason;

    int64_t steps_per_epoch() const { return (count - last) / batch + (skip_last ? 0 : 1); }
    // Whether the batch starting at image `first` of the epoch's order is trained on.
    bool trains(int64_t first) const { return !(skip_last && first + batch > count); }
};

// "" when the model can run a training-mode forward pass on n images of rows x cols; else why
// not, starting with the layer ("layer 'bn1' (BatchNorm1d): ...").
std::string training_forward_problem(Sequential& model, int64_t n, int64_t rows, int64_t cols);

// The plan for `data` at `batch` images per step; drop_last skips a partial last batch. Throws
// SetupError (trainer.hpp) when the model cannot train on a full batch; a partial last batch it
// cannot train on is skipped, with the reason.
BatchPlan plan_batches(Sequential& model, const Dataset& data, int64_t batch, bool drop_last);

}  // namespace normgrad::train
