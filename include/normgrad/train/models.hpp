// The models the command line trains: any sequential model with residual blocks, written as an
// --arch spec (arch.hpp), and two named presets of specs, `mlp` and `cnn`. The normalisation
// that a spec's `norm` layers stand for, the activation its `act` layers stand for and the
// weight initialisation are chosen apart from the spec (--norm, --activation, --init).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "normgrad/layers/init.hpp"
#include "normgrad/layers/sequential.hpp"
#include "normgrad/random.hpp"
#include "normgrad/train/arch.hpp"
#include "normgrad/train/batches.hpp"

namespace normgrad::train {

enum class Activation { ReLU, Sigmoid, Tanh };

// What a spec's `norm` stands for (--norm none|batch|layer|group[:G]|rms).
//   batch: BatchNorm1d after a dense layer, BatchNorm2d after a convolution;
//   layer: LayerNorm over all of a sample's features ([F], or [C, H, W] as torch.nn.LayerNorm
//          ([C, H, W]) with a weight and bias per element);
//   group: GroupNorm with G groups of channels (features, after a dense layer); without :G,
//          8 groups, or the largest number of groups up to 8 that divides the channels;
//   rms:   RMSNorm over the same features as layer.
struct Norm {
    enum class Kind { None, Batch, Layer, Group, RMS } kind = Kind::None;
    int64_t groups = 0;  // group: 0 for the default
    static Norm none() { return {}; }
    static Norm batch() { return {Kind::Batch, 0}; }
    bool operator==(const Norm&) const = default;
};
std::string to_string(const Norm& n);   // "none", "batch", "group:4", ...
Norm parse_norm(const std::string& s);  // throws std::invalid_argument
std::string describe(const Norm& n);    // "BatchNorm", "GroupNorm (4 groups)", ...

struct ModelSpec {
    std::string kind = "mlp";  // the presets "mlp", "resmlp", "cnn", or "arch": the spec in `arch`
    std::string arch;          // kind "arch": the spec's text
    Norm norm;
    int64_t hidden = 256;  // mlp, resmlp: width of every hidden layer
    int depth = 2;         // mlp: number of hidden layers; resmlp: of residual blocks
    Activation activation = Activation::ReLU;
    Init init = Init::pytorch();
    InputScaling input = InputScaling::Standardize;  // what the model was trained on
    int64_t image_rows = 28, image_cols = 28, classes = 10;
};

// The spec text the model is built from: the presets as specs, or `arch` itself.
//   mlp: dense:H,norm,act repeated depth times, then dense:classes (784-256-256-10 by default);
//   resmlp: dense:H,norm,act, then res(dense:H,norm,act) depth times, then dense:classes (the
//        mlp with a skip connection around every hidden layer after the first);
//   cnn: conv3x3:32,norm,act,maxpool2,conv3x3:64,norm,act,maxpool2,flatten,dense:128,norm,act,
//        dense:classes.
std::string spec_text(const ModelSpec& spec);

// Whether --hidden and --depth size the model (the mlp and resmlp presets).
bool sized_by_depth(const ModelSpec& spec);

// Builds the model. Layers are named by kind and count: fc1, conv1, bn1 (ln1, gn1, rms1 for the
// other normalisations), act1, pool1, drop1, res1, gap, flatten (inserted before the first dense
// layer of images); a residual block's layers are named inside it the same way (res1.conv1, ...,
// res1.proj for its projection). The random numbers drawn for the weights do not depend on the
// normalisation, so variants of one spec start from the same weights in every shared layer.
// A spec that does not fit the images is an ArchError naming the token, its position and why.
std::shared_ptr<Sequential> build_model(const ModelSpec& spec, Rng& rng);

// Why images of rows x cols cannot go through the model ("" when they can).
std::string image_size_problem(const ModelSpec& spec, int64_t rows, int64_t cols);

// The layers of the model with their output shapes per image, without building it
// ("conv1 [32, 28, 28]"), for --help-arch style listings and the docs.
std::vector<std::string> describe_layers(const ModelSpec& spec);

// What training the model takes in memory, estimated from its shapes before anything is
// allocated: weights, gradients and the optimizer's state, and one batch's activations and
// their gradients (with a margin for the convolutions' and normalisations' work space).
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
std::string to_string(const Init& init);            // "pytorch", "he", "normal(0.01)"

}  // namespace normgrad::train
