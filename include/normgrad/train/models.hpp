// The models the command line trains: an MLP and a small CNN, each with BatchNorm on or off.
#pragma once

#include <memory>
#include <string>

#include "normgrad/layers/init.hpp"
#include "normgrad/layers/sequential.hpp"
#include "normgrad/random.hpp"

namespace normgrad::train {

enum class Activation { ReLU, Sigmoid, Tanh };

struct ModelSpec {
    std::string kind = "mlp";  // "mlp" or "cnn"
    bool batchnorm = false;
    int64_t hidden = 256;  // mlp: width of every hidden layer
    int depth = 2;         // mlp: number of hidden layers
    Activation activation = Activation::ReLU;
    Init init = Init::pytorch();
    int64_t image_rows = 28, image_cols = 28, classes = 10;
};

// mlp: [Flatten] - (Dense(hidden) - [BatchNorm1d] - act) x depth - Dense(classes)
//      784-256-256-10 by default.
// cnn: conv3x3(32, pad 1) - [BN] - ReLU - maxpool2 - conv3x3(64, pad 1) - [BN] - ReLU - maxpool2 -
//      Flatten - Dense(128) - [BN] - ReLU - Dense(classes).
// Layers are named fc1, bn1, act1, ..., conv1, pool1, ...; the random numbers drawn for the
// weights do not depend on `batchnorm`, so the runs with and without BatchNorm start from the same
// weights in every shared layer.
std::shared_ptr<Sequential> build_model(const ModelSpec& spec, Rng& rng);

// Why images of rows x cols cannot go through the model ("" when they can): the cnn's two 2x2
// poolings need at least 4x4.
std::string image_size_problem(const ModelSpec& spec, int64_t rows, int64_t cols);

// What training the model takes in memory, estimated from its shapes before anything is
// allocated: weights, gradients and the optimizer's state, and one batch's activations and
// their gradients (with a margin for the convolutions' work space).
struct MemoryEstimate {
    uint64_t parameters = 0;        // number of trained values
    int state_copies = 0;           // weights, gradients, optimizer slots: 2 to 4 copies
    uint64_t parameter_bytes = 0;   // parameters * state_copies * 4
    uint64_t activation_bytes = 0;  // for a batch of the given size
    uint64_t total() const { return parameter_bytes + activation_bytes; }
};
MemoryEstimate estimate_training_memory(const ModelSpec& spec, int64_t batch,
                                        const std::string& optimizer, float momentum);

// Text forms for the command line and the checkpoint metadata.
std::string to_string(Activation a);
Activation parse_activation(const std::string& s);  // throws std::invalid_argument

}  // namespace normgrad::train
