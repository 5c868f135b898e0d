// Recomputing BatchNorm's population statistics with one pass over the training data
// (`normgrad recalibrate`), as Ioffe and Szegedy's Algorithm 2 (2015) does for inference.
//
// Training keeps running averages of the batch statistics (momentum 0.1 by default), which lag
// behind the weights: each average mixes batches seen while the layers before it were still
// changing. Algorithm 2 instead, with the trained weights frozen, runs B training batches of m
// images through the network in training-mode normalisation and sets, per channel,
//   E[x]   = (1/B) sum_b mean_b                          (the mean of the batch means)
//   Var[x] = m/(m-1) * (1/B) sum_b var_b                 (var_b biased, as normalisation uses)
// where, for a BatchNorm2d, m counts the values per channel of a batch, batch * H * W (the
// paper's "effective mini-batch" m' = m p q for convolutions), the same m / (m - 1) as the
// running variance's unbiasing (src/ops/batch_norm.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/module.hpp"
#include "normgrad/train/batches.hpp"

namespace normgrad::train {

// How far one BatchNorm's statistics moved, old = the running averages before, new = Algorithm 2.
struct StatisticsShift {
    std::string layer;  // "bn1", "res1.bn2"
    int64_t channels = 0;
    int64_t values_per_batch = 0;  // m: batch, or batch * H * W
    // |new mean - old mean| / sqrt(new var + eps): the mean's move in the channel's own standard
    // deviations, the largest and the average over channels.
    double mean_shift_max = 0.0, mean_shift_avg = 0.0;
    // |new var / old var - 1|, the largest and the average over channels.
    double var_change_max = 0.0, var_change_avg = 0.0;
};

struct Recalibration {
    int64_t batches = 0;   // B, every one of `batch` images
    int64_t images = 0;    // B * batch
    int64_t left_out = 0;  // the images of a partial last batch, not used
    std::vector<StatisticsShift> layers;
};

// The names of the BatchNorms of `model` that keep running statistics ("bn1", "res1.bn2"): what
// recalibrate_batch_norm recomputes.
std::vector<std::string> recalibrated_layers(const Module& model);

// Replaces the running_mean and running_var of every BatchNorm in `model` (that keeps running
// statistics) with Algorithm 2's population statistics over `data` in file order, in batches
// of `batch` images; a partial last batch is left out (its m, and so its unbiasing, would
// differ, and its statistics are the noisiest). During the pass the BatchNorms normalise with
// each batch's statistics (training mode) and every other layer runs in evaluation mode
// (Dropout off, as at inference), without the tape; no parameter changes, nor
// num_batches_tracked, and the model's training mode is restored. The sums are kept in double.
// Throws std::invalid_argument when the model has no such BatchNorm, or `data` holds fewer
// than `batch` images, or batch < 2.
Recalibration recalibrate_batch_norm(Module& model, const Dataset& data, int64_t batch = 128,
                                     InputScaling scaling = InputScaling::Standardize);

}  // namespace normgrad::train
