// Folding BatchNorm into the layer before it, for inference (`normgrad fold`).
//
// In evaluation mode a BatchNorm is a fixed affine map per channel c:
//   y = gamma_c (x - running_mean_c) / sqrt(running_var_c + eps) + beta_c = s_c x + t_c,
//   s_c = gamma_c / sqrt(running_var_c + eps).
// When x is the output of a Dense or Conv2d, x = W_c . input + b_c, the two compose into one layer
// of the same shape:
//   W'_c = s_c W_c                      (row c of a Dense weight, output channel c of a kernel)
//   b'_c = s_c (b_c - running_mean_c) + beta_c
// so the folded model computes the same evaluation outputs (up to float rounding) with one
// pass over memory less per BatchNorm. Training-mode outputs are not preserved: the folded
// model has no batch statistics, and is meant for inference only.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/layers/sequential.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/models.hpp"

namespace normgrad::train {

// A model fold_batch_norm cannot fold (a BatchNorm that does not directly follow a Dense or
// Conv2d, one without running statistics, or no BatchNorm at all); the message names the layer.
class FoldError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

struct FoldedModel {
    ModelSpec spec;  // the spec without the folded BatchNorms (norm "none" for norm batch)
    std::shared_ptr<Sequential> model;
    std::vector<std::string> folds;  // "bn1 into conv1", "res1.bn1 into res1.conv1", ...
};

// The spec of the model with every BatchNorm removed: --norm batch becomes none, and explicit
// `batchnorm` tokens of an --arch spec are taken out of its text (with the comma before them).
ModelSpec spec_without_batch_norm(const ModelSpec& spec);

// Folds every BatchNorm of `model` (built from `spec`) into the Dense or Conv2d directly before
// it, in the model's sequence or inside a residual block (a BatchNorm right after a folded one
// folds into the same layer). Every other value is copied unchanged; `model` is not modified.
// Throws FoldError naming the first BatchNorm that does not directly follow a Dense or Conv2d.
FoldedModel fold_batch_norm(const Sequential& model, const ModelSpec& spec);

// How far apart two models' evaluation outputs (the logits) are on `data`.
struct OutputDifference {
    double max_abs = 0.0;  // max |a - b|
    double max_rel = 0.0;  // max |a - b| / max(1, |a|): relative above 1, absolute below
    int64_t values = 0;    // outputs compared
};
OutputDifference compare_outputs(Module& a, Module& b, const Dataset& data, int64_t batch = 128,
                                 InputScaling scaling = InputScaling::Standardize);

}  // namespace normgrad::train
