// Tensors with names: what checkpoints store (safetensors.hpp), what optimizers update
// (optim.hpp) and what modules hold (module.hpp). Here, in the core, so that neither the I/O nor
// the optimizers depend on the layers.
#pragma once

#include <string>

#include "normgrad/tensor.hpp"

namespace normgrad {

struct NamedTensor {
    std::string name;  // dotted, as in PyTorch: "fc1.weight", "bn1.running_mean"
    Tensor tensor;
};

// A trained tensor and what an optimizer needs to know of it.
struct Parameter {
    std::string name;
    Tensor tensor;
    // Biases and normalisation gains/shifts: what "exclude from weight decay" leaves out.
    bool is_bias_or_norm = false;
};

}  // namespace normgrad
