// The training loop behind `normgrad train`, usable from any program.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/train/grad_stats.hpp"
#include "normgrad/train/models.hpp"

namespace normgrad::train {

struct TrainConfig {
    ModelSpec model;
    int epochs = 1;
    int64_t batch = 128;
    std::string optimizer = "sgd";  // sgd, adam, adamw
    float lr = 0.05f;
    float momentum = 0.9f;  // sgd
    bool nesterov = false;
    float weight_decay = 0.f;
    bool decay_bias_and_norm = true;    // false: no weight decay on biases and BatchNorm gamma/beta
    std::string schedule = "constant";  // constant, step, cosine
    int64_t warmup_steps = 0;
    double clip_norm = 0.0;  // 0: no clipping
    uint64_t seed = 0;
    int threads = 1;
    int64_t max_steps = 0;        // 0: no limit (stop early, for quick experiments and tests)
    bool progress = true;         // the per-epoch progress bar on stderr
    bool grad_stats = true;       // per-layer gradient statistics in StepInfo and the log
    bool detect_anomaly = false;  // stop at the first non-finite value, naming where it arose
    std::string log_path;         // JSON lines, see README "Training log"
    std::string save_path;        // safetensors checkpoint at the end
    // Resumable checkpoints: model, optimizer state, data-order RNG state and position, written
    // every `checkpoint_every` steps (0: never) and when a stop is requested (SIGINT).
    int64_t checkpoint_every = 0;
    std::string checkpoint_path = "checkpoint.safetensors";
    std::string resume_path;  // continue the run saved in this checkpoint
};

struct StepInfo {
    int epoch;     // 1-based
    int64_t step;  // global, 1-based
    float loss;
    float lr;
    double grad_norm;        // global L2 norm of all parameter gradients, before clipping
    const StepStats* stats;  // per-layer statistics (null when grad_stats is off)
};

struct EpochInfo {
    int epoch;
    double train_loss;     // mean over the epoch's steps
    double test_accuracy;  // in [0, 1]
    double train_seconds;  // the training loop alone: no evaluation, no data loading
    int64_t steps;
};

struct TrainResult {
    std::vector<EpochInfo> epochs;
    std::vector<float> losses;  // every step of this invocation
    bool interrupted = false;   // stopped by request_stop(); a checkpoint was written
    int64_t last_step = 0;
};

// Asks the running train() to stop after the current step, write its checkpoint and return.
// Async-signal-safe: call it from a SIGINT handler.
void request_stop();

// Thrown when the loss or the gradient norm stops being a finite number.
class DivergedError : public std::runtime_error {
  public:
    DivergedError(const std::string& what, int64_t step) : std::runtime_error(what), step(step) {}
    int64_t step;
};

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, const Module& model);

// Trains `model` (built from c.model) and evaluates it after each epoch. `on_step` (optional)
// sees every step; the log file, when asked for, gets one JSON line per step and per epoch.
TrainResult train(const TrainConfig& c, Sequential& model, const Dataset& train_set,
                  const Dataset& test_set,
                  const std::function<void(const StepInfo&)>& on_step = {});

// Fraction of `data` classified correctly, in evaluation mode and without the tape. The batch
// size changes nothing but memory: after training, the training batch size (the default, 128)
// reuses the buffers training left in the pool instead of allocating larger ones.
double evaluate(Module& model, const Dataset& data, int64_t batch = 128);

// Checkpoints: model parameters and buffers plus the model description as metadata, so that
// `normgrad eval` can rebuild the model without being told what it was. The optimizer's state,
// when given, is stored in the same file under "optimizer.<name>".
inline constexpr const char* kOptimizerPrefix = "optimizer.";
void save_model(const std::string& path, const Module& model, const ModelSpec& spec,
                const Optimizer* optimizer = nullptr);
struct LoadedModel {
    ModelSpec spec;
    std::shared_ptr<Sequential> model;
    std::vector<NamedTensor> optimizer_state;  // names without the prefix; empty if none saved
    std::string optimizer_kind;                // "SGD", "Adam", "AdamW" or empty
};
LoadedModel load_model(const std::string& path);

// A position in a training run, enough to continue it exactly.
struct ResumePoint {
    int epoch = 1;          // the epoch in progress
    int64_t first = 0;      // index in the epoch's order of the next batch's first image
    int64_t step = 0;       // steps done
    double loss_sum = 0.0;  // of this epoch's steps so far
    int64_t epoch_steps = 0;
    std::string epoch_rng_state;  // data-order RNG state at the start of the epoch
};
// Writes model, optimizer state, configuration and position (atomically, with a checksum).
void save_resume_point(const std::string& path, const TrainConfig& c, const Module& model,
                       const Optimizer& opt, const ResumePoint& at);
// Restores model and optimizer from `path` and returns the position. The checkpoint must come
// from the same model, batch size, optimizer and seed (CheckpointError otherwise).
ResumePoint load_resume_point(const std::string& path, const TrainConfig& c, Module& model,
                              Optimizer& opt);

}  // namespace normgrad::train
