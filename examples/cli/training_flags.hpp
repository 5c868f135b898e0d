// The model, optimizer and run flags shared by `train`, `compare` and `gradnorms`; each
// sub-command offers only the groups that do something in it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "normgrad/train/trainer.hpp"

namespace normgrad::cli {

struct TrainingFlags {
    train::TrainConfig config;
    std::string arch;  // --arch: a spec, or @FILE
    std::string norm = "none";
    std::string batchnorm;  // --batchnorm on|off: the short form of --norm batch|none
    std::string activation = "relu";
    std::string input = "standardize";
    std::string init = "pytorch";
    float init_std = 0.01f;
    std::string data_dir = "data/mnist";
    std::string grad_stats = "on";
    std::string adapt_threads = "on";  // --adapt-threads (wait_policy.hpp decides from it too)
    bool no_progress = false;
    bool no_decay_bias_norm = false;
};

// Which flags a sub-command offers.
struct FlagGroups {
    bool norm = true;        // --norm, --batchnorm (compare and gradnorms take --variants)
    bool depth = true;       // --depth (gradnorms sweeps --depths)
    bool optimizer = true;   // --optimizer, --lr, --momentum, ..., --clip
    bool schedule = true;    // --epochs, --max-steps, --drop-last, progress
    bool grad_stats = true;  // --grad-stats (compare always records the statistics)
};

void add_training_flags(CLI::App* sub, TrainingFlags& f, const FlagGroups& groups);

// Checks across flags (a flag that would do nothing with the others given), then fills
// config.model from the text flags (reading --arch @FILE). `given` says whether the user named a
// flag.
void finish_training_flags(TrainingFlags& f, const std::function<bool(const std::string&)>& given);

// The normalisations of a list flag (--variants none,batch,group:4); a bad one is a UsageError
// naming `flag`.
std::vector<train::Norm> parse_norms(const std::string& flag,
                                     const std::vector<std::string>& values);

// The spec of --arch VALUE: VALUE itself, or the text of the file VALUE names after '@' (lines
// starting with '#' skipped). A spec that does not parse is a UsageError naming the token.
std::string read_arch_flag(const std::string& value);

// The train and test splits of an MNIST-format folder, loaded under an Activity (so that running
// out of memory says what was being loaded) and checked to hold images of one size. A missing
// or damaged file is a UsageError naming it. A stop request during loading is honoured after it.
struct Splits {
    Dataset train, test;
};
Splits load_splits(const std::string& dir);

// The model to train for these images: the image size comes from the training images; images
// the model cannot take and a model too large for the available memory are UsageErrors.
void fit_model_to_data(train::TrainConfig& c, const Splits& data, const std::string& dir);

}  // namespace normgrad::cli
