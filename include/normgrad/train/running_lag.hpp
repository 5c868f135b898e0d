// How the momentum makes BatchNorm's running statistics lag (`normgrad inspect --lag-steps`,
// issue 15 §2): with a trained model's weights frozen, the running statistics are reset to where
// training starts them (mean 0, variance 1) and updated by training-mode forwards over shuffled
// training batches, exactly as the layer updates them in training,
//     running = (1 - momentum) * running + momentum * batch statistic,
// and after every step compared with the population statistics of Ioffe and Szegedy's
// Algorithm 2 (recalibrate.hpp) over the whole training set. Freezing the weights isolates the
// momentum's part of the lag from the weights' drift during training.
//
// Two things set how close the averages get: the start's gap shrinks by (1 - momentum) per step
// (to 1% of itself after ln(0.01) / ln(1 - momentum) steps: 44 at momentum 0.1), and the batches'
// own noise never averages out completely (an exponential average of a statistic whose batch-to-
// batch standard deviation is s keeps a standard deviation of s * sqrt(momentum / (2 - momentum)),
// 0.23 s at momentum 0.1): a layer with few values per channel in a batch (a BatchNorm1d after a
// dense layer: m = the batch size) may never come within 1% and stay there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/module.hpp"
#include "normgrad/train/batches.hpp"

namespace normgrad::train {

struct LagStep {
    int64_t step = 0;
    // Mean over channels of |running_mean_c - population_mean_c| / sqrt(population_var_c + eps)
    // (the gap in the channel's standard deviations) and of |running_var_c / population_var_c - 1|.
    double mean_gap = 0.0, var_gap = 0.0;
};

struct LayerLag {
    std::string name;              // "bn1", "res1.bn2"
    int64_t values_per_batch = 0;  // m
    float momentum = 0.1f;         // 0 when the layer keeps a cumulative average (momentum none)
    std::vector<LagStep> steps;    // after steps 1, 2, ..., N
    // The first step at which both gaps are at most `tolerance`, and the first from which they
    // stay so until the last step (0: never).
    int64_t first_within = 0, stays_within = 0;
    // The gaps' average over the last half of the steps: where the noise leaves them.
    double mean_gap_floor = 0.0, var_gap_floor = 0.0;
    // What the noise alone predicts for that floor: a batch statistic with standard deviation s
    // over batches (measured here, per channel, in the same units as the gaps) leaves an
    // exponential average whose mean absolute deviation is sqrt(2 / pi) * s * sqrt(momentum /
    // (2 - momentum)) (Gaussian), averaged over channels. Only for momentum > 0.
    double mean_floor_predicted = 0.0, var_floor_predicted = 0.0;
};

struct RunningLag {
    int64_t steps = 0, batch = 0;
    double tolerance = 0.01;
    std::vector<LayerLag> layers;
};

// Measures every BatchNorm with running statistics of `model` on `train_set`: population
// statistics in batches of `batch` in file order (Algorithm 2), then `steps` training-mode
// forwards on batches of `batch` in the shuffled order of data_order_rng(seed), without the tape.
// Every buffer of the model and its training mode are put back bit for bit afterwards (also when
// it throws); no parameter changes. Throws std::invalid_argument when the model has no such
// BatchNorm, steps < 1, batch < 2 or the data hold fewer than `batch` images.
RunningLag measure_running_lag(Module& model, const Dataset& train_set, int64_t steps,
                               int64_t batch, InputScaling scaling, uint64_t seed,
                               double tolerance = 0.01);

}  // namespace normgrad::train
