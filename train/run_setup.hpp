// Everything a run needs before its first step, and everything that can refuse it: the batch
// plan, the optimizer and schedule, the settings, the position to resume from and the log.
// Nothing is written until all of it has passed (the log's file appears only when it ends).
#pragma once

#include <cstdint>
#include <memory>

#include "normgrad/idx.hpp"
#include "normgrad/layers.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/train/batch_plan.hpp"
#include "normgrad/train/model_io.hpp"
#include "normgrad/train/run_log.hpp"
#include "normgrad/train/run_settings.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

struct PreparedRun {
    BatchPlan plan;
    int64_t planned_steps = 0;  // what the schedule spans
    LrSchedule schedule;
    std::unique_ptr<Optimizer> optimizer;
    RunSettings settings;
    bool resumed = false;
    ResumePoint at;  // where the run starts (the beginning unless resumed)
    RunLog log;
};

// `c` gains init_from_identity when it starts from a model file. Throws SetupError (or a
// CheckpointError for a damaged checkpoint) when the run cannot start as configured.
PreparedRun prepare_run(TrainConfig& c, Sequential& model, const Dataset& train_set,
                        const Dataset& test_set);

}  // namespace normgrad::train
