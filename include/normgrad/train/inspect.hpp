// Looking inside the BatchNorm layers of a trained model (`normgrad inspect`, issue 15 §2):
// what gamma and beta learned, what the layer does to one batch of real data in both modes, how
// far the running statistics are from that batch's own, and what the choice of statistics does
// to the test accuracy at small batch sizes.
//
// Every forward runs without the tape. The training-mode forwards (the BatchNorms normalise
// with each batch's own statistics; every other layer, Dropout included, in evaluation mode)
// move the running statistics and num_batches_tracked: every buffer of the model is put back
// bit for bit afterwards, and the model's training mode too, also when a forward throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/module.hpp"
#include "normgrad/train/batches.hpp"

namespace normgrad::train {

// min / mean / max of a vector and a histogram of `bins` equal bins from min to max (all values
// in the first bin when min == max).
struct ValueSummary {
    double min = 0.0, mean = 0.0, max = 0.0;
    std::vector<int64_t> histogram;
    double start = 0.0;  // the value every element had at initialisation (gamma 1, beta 0)
};
ValueSummary summarise(const std::vector<float>& values, double start, int bins = 10);

// Per-channel moments of a tensor [N, C] or [N, C, H, W] (over N, or N, H, W), summarised over
// the channels: the mean over channels of |channel mean| and of the channel's standard deviation
// (biased, as normalisation uses), in double.
struct ChannelMoments {
    double abs_mean = 0.0;  // mean over channels of |mean_c|
    double std = 0.0;       // mean over channels of std_c
};
struct ChannelStats {
    std::vector<double> mean, var;  // per channel, var biased
};
ChannelStats channel_stats(const Tensor& x);
ChannelMoments summarise(const ChannelStats& s);

// One BatchNorm layer on the inspected batch, in one mode.
struct ModeView {
    ChannelMoments input, output;
    // How close the output is to what the layer aims at: mean over channels of
    // |output mean_c - beta_c| and of |output std_c - |gamma_c||. In training mode both are
    // near 0 by construction (the std is |gamma| sqrt(var / (var + eps))); in evaluation mode
    // they measure how well the running statistics fit this batch.
    double mean_off_beta = 0.0, std_off_gamma = 0.0;
};

struct LayerInspection {
    std::string name;  // "bn1", "res1.bn2"
    std::string kind;  // "BatchNorm1d", "BatchNorm2d"
    int64_t channels = 0;
    int64_t values_per_channel = 0;  // m on the inspected batch: batch, or batch * H * W
    bool affine = true, tracked = true;
    ValueSummary gamma, beta;  // empty (and meaningless) when !affine
    ModeView train_mode, eval_mode;
    // The running statistics against the inspected batch's own (in training-mode normalisation):
    // mean over channels of |running_mean_c - batch_mean_c| / sqrt(batch_var_c + eps) (the gap
    // in the channel's own standard deviations) and of |running_var_c / batch_var_c - 1| with
    // the batch variance unbiased (m / (m - 1)), as the running variance is. Only when tracked.
    double mean_gap = 0.0, var_rel_diff = 0.0;
};

// Test accuracy with training-mode normalisation (each test batch's own statistics) at one
// batch size; the last batch may be partial.
struct BatchAccuracy {
    int64_t batch = 0;
    std::optional<double> accuracy;  // none when undefined
    std::string undefined_why;       // when undefined
};

struct Inspection {
    int64_t batch_images = 0;  // images in the inspected batch (the first `batch` of the file)
    std::vector<LayerInspection> layers;
    int64_t test_images = 0;
    double eval_accuracy = 0.0;  // evaluation mode (running statistics), any batch size
    std::vector<BatchAccuracy> train_mode_accuracy;
};

// The names of every BatchNorm of `model` ("bn1", "res1.bn2"), in forward order of discovery.
std::vector<std::string> batch_norm_layers(const Module& model);

// Inspects every BatchNorm of `model` on `test`: the first min(batch, count) images for the
// per-layer views, and all of it for the accuracies at each of `accuracy_batches`. Throws
// std::invalid_argument when the model has no BatchNorm, the test set is empty or batch < 2.
Inspection inspect_batch_norm(Module& model, const Dataset& test, int64_t batch = 128,
                              InputScaling scaling = InputScaling::Standardize,
                              const std::vector<int64_t>& accuracy_batches = {1, 8, 128});

}  // namespace normgrad::train
