// --arch: a sequential model, residual blocks included, written as text.
//
//   conv3x3:32,norm,relu,maxpool2,res(conv3x3:32,norm,relu,conv3x3:32,norm),relu,gap,dense:10
//   dense:64,norm,relu,dense:10
//
// A spec is a comma-separated list of layers, read left to right from the input images:
//   dense:N            a fully connected layer to N features (the images are flattened first)
//   convKxK:C          a KxK convolution to C channels, padding K/2 (the image keeps its size);
//                      ":sS" strides it by S, ":pP" pads by P instead: conv3x3:64:s2, conv5x5:8:p0
//   norm               the normalisation --norm names (none, batch, layer, group[:G], rms)
//   batchnorm, layernorm, groupnorm:G, rmsnorm   one of them by name, whatever --norm says
//   relu, sigmoid, tanh, act                     an activation (act: the one --activation names)
//   maxpoolK, avgpoolK  KxK pooling with stride K;  gap  global average pooling ([N, C])
//   dropout:P          Dropout with rate P in [0, 1)
//   flatten            [N, C, H, W] -> [N, C * H * W] (dense does it by itself)
//   res(SPEC)          a residual block: SPEC's output plus the block's input, through a 1x1
//                      projection (a convolution, or a dense layer) when their shapes differ
// Whitespace around tokens is ignored. An error names the token, its position and what was
// expected (ArchError). Whether the shapes fit is checked when the model is built (models.hpp).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace normgrad::train {

class ArchError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

struct ArchLayer {
    enum class Kind {
        Dense,
        Conv,
        Norm,  // resolved by --norm
        BatchNorm,
        LayerNorm,
        GroupNorm,
        RMSNorm,
        Activation,  // relu, sigmoid, tanh, or "act": the --activation one
        MaxPool,
        AvgPool,
        GlobalAvgPool,
        Dropout,
        Flatten,
        Residual,
    };
    Kind kind;
    std::string token;            // as written, for messages ("conv3x3:32")
    size_t position = 0;          // its first character in the spec (0-based)
    int64_t size = 0;             // dense: features; conv: channels; groupnorm: groups (0: default)
    int kernel = 0;               // conv, pooling
    int stride = 1;               // conv
    int padding = -1;             // conv (-1: kernel / 2)
    float rate = 0.f;             // dropout
    std::string activation = "";  // relu, sigmoid, tanh, or "" for "act"
    std::vector<ArchLayer> inner = {};  // residual: the block's layers
};

struct Arch {
    std::string text;  // the spec as given
    std::vector<ArchLayer> layers;
};

// Parses a spec (see above); `what` names it in errors ("--arch", or "checkpoint X: metadata").
Arch parse_arch(const std::string& text, const std::string& what = "--arch");

}  // namespace normgrad::train
