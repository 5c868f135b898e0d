// What the commands that start from a model file (eval, inspect, fold, recalibrate) share:
// loading it, describing it, and loading test images that fit it.
#pragma once

#include <string>

#include "normgrad/idx.hpp"
#include "normgrad/train/model_io.hpp"

namespace normgrad::cli {

// The model a file written by `normgrad train --save` describes, under an Activity (so that
// running out of memory says what was loaded). A stop request is honoured after it.
train::LoadedModel load_model_file(const std::string& path);

// "--arch SPEC with LayerNorm", "cnn with BatchNorm": the model as a user named it.
std::string describe_model(const train::ModelSpec& spec);

// The training (train_split) or test split of `data_dir`, which must hold images of the size the
// model in `model_path` was trained on; a missing or damaged file, or images of another size, is
// a UsageError naming the file.
Dataset load_split_for(const train::ModelSpec& spec, const std::string& model_path,
                       const std::string& data_dir, bool train_split);
// load_split_for(..., false).
Dataset load_test_set_for(const train::ModelSpec& spec, const std::string& model_path,
                          const std::string& data_dir);

}  // namespace normgrad::cli
