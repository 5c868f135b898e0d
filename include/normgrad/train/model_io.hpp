// Models and resumable checkpoints on disk, both safetensors files (safetensors.hpp).
//
// A model file (`normgrad train --save`) holds the parameters and buffers under PyTorch's names,
// the optimizer's state under "optimizer.<name>", and the model's description as metadata, so
// that `normgrad eval` rebuilds the model without being told what it was. A resumable checkpoint
// (`--checkpoint`) adds the run's settings (run_settings.hpp) and its position in the data.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "normgrad/layers/sequential.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/train/models.hpp"
#include "normgrad/train/run_settings.hpp"

namespace normgrad::train {

inline constexpr const char* kOptimizerPrefix = "optimizer.";

void save_model(const std::string& path, const Module& model, const ModelSpec& spec,
                const Optimizer* optimizer = nullptr);

struct LoadedModel {
    ModelSpec spec;
    std::shared_ptr<Sequential> model;
    std::vector<NamedTensor> optimizer_state;  // names without the prefix; empty if none saved
    std::string optimizer_kind;                // "SGD", "Adam", "AdamW" or empty
    std::string checksum;                      // the file's normgrad.crc32
};
// Rebuilds the model a file describes and loads its values; every value must be finite.
LoadedModel load_model(const std::string& path);

// A position in a training run, enough to continue it exactly.
struct ResumePoint {
    int epoch = 1;          // the epoch in progress
    int64_t first = 0;      // index in the epoch's order of the next batch's first image
    int64_t step = 0;       // steps done
    double loss_sum = 0.0;  // of this epoch's steps so far
    int64_t epoch_steps = 0;
    std::string epoch_rng_state;          // data-order RNG state at the start of the epoch
    std::string training_rng_state = "";  // training_rng() (Dropout's masks) after the step
};
// Writes model, optimizer state, the run's settings and the position (atomically).
void save_resume_point(const std::string& path, const RunSettings& settings, const ModelSpec& spec,
                       const Module& model, const Optimizer& opt, const ResumePoint& at);
// Restores model and optimizer from `path` and returns the position. A checkpoint of another
// run is refused with every differing setting named (std::invalid_argument: the flags are
// wrong, not the file); a model file written by --save, which has no position to continue
// from, is refused with what to do instead; a damaged file is a CheckpointError.
ResumePoint load_resume_point(const std::string& path, const RunSettings& settings, Module& model,
                              Optimizer& opt);

}  // namespace normgrad::train
