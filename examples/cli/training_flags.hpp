// The model and optimizer flags shared by `train` and `compare`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "normgrad/train/trainer.hpp"

namespace normgrad::cli {

struct TrainingFlags {
    train::TrainConfig config;
    std::string batchnorm = "off";
    std::string activation = "relu";
    std::string init = "pytorch";
    float init_std = 0.01f;
    std::string data_dir = "data/mnist";
    std::string grad_stats = "on";
};

// Registers the flags on `sub` (with_batchnorm: whether --batchnorm is offered).
void add_training_flags(CLI::App* sub, TrainingFlags& f, bool with_batchnorm);
// Range checks CLI11 cannot express (UsageError), then fills config.model from the text flags.
void finish_training_flags(TrainingFlags& f);

// The train and test splits of an MNIST-format folder; a missing or damaged file is a UsageError.
struct Splits {
    Dataset train, test;
};
Splits load_splits(const std::string& dir);

}  // namespace normgrad::cli
