// A run's identity: every setting that changes its trajectory, so that a checkpoint is resumed
// only by the run it came from, and a log is continued only by the same run.
//
// Each setting is named by the flag that sets it, so a mismatch reads as the command line the
// user typed: "--batch is 32 in the checkpoint and 16 now". The thread count is not among them:
// it changes the rounding of a few sums, not what is computed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"

namespace normgrad::train {

struct TrainConfig;

struct Setting {
    std::string name;   // "--lr", or "training data"
    std::string value;  // "0.05"
    bool operator==(const Setting&) const = default;
};
using RunSettings = std::vector<Setting>;

// The training images and labels, by count, size and CRC-32 of their bytes.
std::string data_identity(const Dataset& data);

// `steps_planned` is the length of the run the learning-rate schedule spans (it matters only
// for the schedules that depend on it: step and cosine).
RunSettings run_settings(const TrainConfig& c, const Dataset& train_set, int64_t steps_planned);

// As one JSON object, {"--model":"mlp",...}, in order; and back (CheckpointError-free: an
// unreadable text gives an empty list, which matches nothing).
std::string to_json(const RunSettings& s);
RunSettings settings_from_json(const std::string& json);

// "--batch is 32 in the checkpoint and 16 now", one entry per differing setting ("the
// checkpoint" being `saved_where`).
std::vector<std::string> differences(const RunSettings& saved, const RunSettings& now,
                                     const std::string& saved_where);

}  // namespace normgrad::train
