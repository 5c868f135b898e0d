// Variants of one model (BatchNorm off versus on, or any normalisations: --variants
// none,batch,layer,group): the same spec trained once per variant, with the same seed, the same
// initial weights in every shared layer and the same data order, recorded step by step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

struct StepRow {
    int64_t step;
    int epoch;
    double loss;
    double grad_norm;  // global, before clipping
    // Per RunRecord::layers: L2 norm of the layer's weight gradient, and of the gradient at the
    // layer's output (NaN where there is none: the step whose loss was not finite).
    std::vector<double> layer_grad;
    std::vector<double> layer_output_grad;
};

struct EvalPoint {
    int64_t step;
    double accuracy;
};

struct RunRecord {
    std::string label;  // "BatchNorm", "no normalisation", "GroupNorm (4 groups)"
    std::string tag;    // for CSV columns: "none", "batch", "group4"
    Norm norm;
    std::vector<std::string> layers;  // layers with parameters, in forward order
    std::vector<StepRow> steps;
    std::vector<EvalPoint> evals;  // test accuracy during training
    int64_t diverged_step = 0;     // first step with a non-finite loss or gradient (0: none)
    std::string diverged_value;    // which was not finite there: "loss" or "grad_norm"
    std::string diverged_message;
    double test_accuracy = 0.0;  // at the end (or when it diverged)
    bool interrupted = false;
};

struct CompareConfig {
    TrainConfig base;  // model.norm is replaced by each variant's
    std::vector<Norm> variants{Norm::none(), Norm::batch()};
    int64_t eval_every = 0;         // test accuracy every N steps (0: about 10 points per run)
    std::vector<int64_t> at_steps;  // steps shown in the table besides the first and the last
    std::string title;              // the report's title (the preset's description)
};

struct CompareResult {
    CompareConfig config;
    std::vector<RunRecord> runs;  // one per variant, in their order (fewer when interrupted)
    bool interrupted = false;     // a stop request ended it (stop.hpp): the records are incomplete
    std::vector<std::string> layers;  // union of the runs' layers, in forward order
};

// The variant's short name for CSV columns and file names: its --norm text without ':'.
std::string variant_tag(const Norm& n);

CompareResult run_compare(const CompareConfig& config, const Dataset& train_set,
                          const Dataset& test_set);

// The steps the table shows: 1; when a run diverged, the steps up to it (every one when it came
// within 8 steps, else 1, 2, 3, steps doubling from 6, and the two last); the --at steps; and the
// last step.
std::vector<int64_t> table_steps(const CompareResult& r);
// The side-by-side terminal table. A cell says "n/a" for a layer the run does not have,
// "stopped" after the run ended, and "diverged" where its value was not measured because the
// step diverged.
std::string format_table(const CompareResult& r);
// A few sentences built from the runs' own numbers, one per run: a diverged run's loss and
// gradient norm step by step up to the step where they stopped being finite, and its test
// accuracy; a run that trained, its loss from first to last step, the range of its global
// gradient norm and its test accuracy.
std::string verdict(const CompareResult& r);
// One row per step, the runs aligned: step, epoch, then per variant (columns suffixed by its
// tag: loss_none, loss_batch, ...) loss and global gradient norm, what happened at the step
// (event_<tag>: "diverged (loss not finite)" where a run stopped), per-layer gradient norms.
void write_csv(const CompareResult& r, const std::string& path);

}  // namespace normgrad::train
