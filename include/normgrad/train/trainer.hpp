// The training loop behind `normgrad train`, usable from any program.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "normgrad/communicator.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/train/data_parallel.hpp"
#include "normgrad/train/grad_stats.hpp"
#include "normgrad/train/inspect.hpp"
#include "normgrad/train/models.hpp"
#include "normgrad/train/run_records.hpp"

namespace normgrad::train {

struct TrainConfig {
    ModelSpec model;
    int epochs = 1;
    int64_t batch = 128;
    bool drop_last = false;  // drop a partial last batch of every epoch (PyTorch's drop_last)
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
    // With threads > 1: fewer of them while other processes keep this process's cores busy, all
    // of them again once those are free (thread_governor.hpp), changed between steps. The
    // results then depend on the load in their last bits (a sum split among fewer threads).
    bool adapt_threads = false;
    int64_t max_steps = 0;        // 0: no limit (stop early, for quick experiments and tests)
    int64_t eval_every = 0;       // test loss and accuracy every N steps (0: after epochs only)
    bool progress = true;         // the progress bar, or progress lines when not on a terminal
    int64_t log_every = 0;        // progress lines every N steps (0: about ten per epoch)
    std::string progress_label;   // shown before the epoch in progress ("BatchNorm off")
    bool grad_stats = true;       // per-layer gradient statistics in StepInfo and the log
    bool detect_anomaly = false;  // stop at the first non-finite value, naming where it arose
    std::string log_path;         // JSON lines (run_log.hpp)
    std::string save_path;        // the model at the end (model_io.hpp)
    // Resumable checkpoints: model, optimizer state, data-order RNG state and position, written
    // every `checkpoint_every` steps (0: never) and when a stop is requested (stop.hpp).
    int64_t checkpoint_every = 0;
    std::string checkpoint_path = "checkpoint.safetensors";
    std::string resume_path;         // continue the run saved in this checkpoint
    std::string init_from;           // start from the weights of this model file
    std::string init_from_identity;  // its checksum, for the run's settings (set by train())
    // Notes for the user (a batch that is skipped, a log that is continued); none by default.
    std::function<void(const std::string&)> on_note;
    // Sees every evaluation of --eval-every (none by default).
    std::function<void(const EvalInfo&)> on_eval;
    // At these steps, after the update, every BatchNorm is inspected on the first 128 test
    // images (inspect.hpp: gamma, beta, the layer's input and output in both modes, the running
    // statistics against the batch's), written to the log and shown to on_inspect.
    std::vector<int64_t> inspect_at;
    std::function<void(int64_t step, const Inspection&)> on_inspect;
    // Data-parallel training (communicator.hpp, distributed.hpp): the ranks of `comm` train one
    // model together; null or one rank: this process alone. The model starts from rank 0's
    // parameters and buffers; every rank draws the same data order and trains on its slice of
    // each global batch of `batch` images (rank_slice, data_parallel.hpp); the gradients are
    // the global batch's (grad_sync.hpp: each rank's loss is scaled by its share, so uneven
    // slices weigh what they hold); the step's loss, the evaluations and --eval-every are over
    // every rank's share. Rank 0 alone writes the log, checkpoints and the model and calls
    // on_note, on_eval and on_step; the others run quietly. Every rank must be given the same
    // configuration (check_same_program, distributed.hpp, checks the command line).
    std::shared_ptr<const Communicator> comm;
    // With several ranks: BatchNorm with the global batch's statistics (SyncBatchNorm), or each
    // rank's own, the running statistics then averaged over the ranks before every evaluation,
    // checkpoint and save (data_parallel.hpp).
    BnSync bn_sync = BnSync::Global;
};

struct TrainResult {
    std::vector<EpochInfo> epochs;
    std::vector<float> losses;  // every step of this invocation
    bool interrupted = false;   // stopped by a stop request (stop.hpp); a checkpoint was written
    int64_t last_step = 0;
};

// Asks the running train() to stop after the current step (normgrad::request_stop).
void request_stop();

// Thrown when the loss or the gradient norm stops being a finite number.
class DivergedError : public std::runtime_error {
  public:
    DivergedError(const std::string& what, int64_t step, std::string value)
        : std::runtime_error(what), step(step), value(std::move(value)) {}
    int64_t step;
    std::string value;  // which stopped being finite: "loss" or "grad_norm"
};

// The run cannot start as configured (a batch the model cannot train on, a checkpoint of another
// run, nothing left to train): found before the first step, nothing was written.
class SetupError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

// Trains `model` (built from c.model) and evaluates it after each epoch. `on_step` (optional)
// sees every step, the diverged one included (before DivergedError is thrown); the log file,
// when asked for, gets one JSON line per step and per epoch and an end record however the run
// ends. A stop request before the first step throws StopRequested (stop.hpp) and writes nothing.
TrainResult train(const TrainConfig& c, Sequential& model, const Dataset& train_set,
                  const Dataset& test_set,
                  const std::function<void(const StepInfo&)>& on_step = {});

}  // namespace normgrad::train
