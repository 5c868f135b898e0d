// The depth study (`normgrad study depth`): how depth, BatchNorm and skip connections decide
// whether gradients explode at initialisation and whether the network trains.
//
// Two families of networks, each at several depths and in four variants:
//   mlp: D hidden layers of width H (dense:H,norm,act), then dense:classes;
//   cnn: conv3x3:C:s2,norm,act (28x28 -> 14x14), then D-1 more 3x3 convolutions of C channels,
//        then global average pooling and dense:classes;
// and the variants
//   plain          no skip connection, no normalisation;
//   plain+BN       no skip connection, BatchNorm after every hidden layer;
//   residual+BN    every hidden layer after the first in a pre-activation residual block,
//                  x + W relu(bn(x)), and bn, relu after the last block (He et al., 2016);
//   residual       the same skips, no normalisation (x + W relu(x)).
// For each network: the weight-gradient norm of every layer at initialisation (training mode,
// averaged over a few batches), the growth per layer towards the input, and the test accuracy
// after a fixed number of training steps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

enum class DepthFamily { MLP, CNN };
std::string to_string(DepthFamily f);  // "mlp", "cnn"

struct DepthVariant {
    bool residual = false;
    bool batch_norm = false;
    std::string name() const;  // "plain", "plain+BN", "residual+BN", "residual"
};
// The four variants, in the order the study's tables show them.
std::vector<DepthVariant> depth_variants();

// The --arch spec of one network of the study (depth >= 2: the first hidden layer is never
// inside a skip, so a residual network of depth D has D-1 blocks).
std::string depth_study_spec(DepthFamily family, int depth, const DepthVariant& v, int64_t width,
                             int64_t classes = 10);

// The geometric mean, over consecutive pairs of the hidden layers after the first (the layers of
// one shape: H x H, or C x C x 3 x 3), of ||dL/dW_l|| / ||dL/dW_(l+1)||: by how much the gradient
// grows per layer on its way towards the input (1: neither grows nor shrinks). `norms` holds every
// weight layer, input side first, the output layer last; needs at least 3 hidden layers, else
// NaN. A zero or non-finite norm gives NaN.
double growth_per_layer(const std::vector<double>& norms);

// Yang et al. (ICLR 2019), for a deep ReLU network with BatchNorm at initialisation and a large
// batch: the squared gradient norm grows by pi / (pi - 1) per layer towards the input, so the
// norm by sqrt(pi / (pi - 1)) = 1.211.
double mean_field_relu_growth();

struct DepthStudyConfig {
    TrainConfig base;  // optimizer, lr, batch, seed, threads, max_steps (the budget)
    std::vector<DepthFamily> families{DepthFamily::MLP, DepthFamily::CNN};
    std::vector<int> mlp_depths{4, 8, 16, 32, 64};
    std::vector<int> cnn_depths{4, 8, 16};
    int64_t mlp_width = 128;
    int64_t cnn_channels = 8;
    int grad_batches = 5;  // batches the gradients at initialisation are averaged over
};

struct DepthStudyPoint {
    DepthFamily family = DepthFamily::MLP;
    int depth = 0;
    DepthVariant variant;
    std::string spec;
    std::vector<std::string> layers;  // every Dense and Conv2d, input side first
    std::vector<double> grad_norms;   // ||dL/dW|| of each at initialisation
    double growth = 0;                // growth_per_layer(grad_norms)
    double first_over_last = 0;       // the input layer's over the output layer's
    double test_accuracy = 0;         // after the budget (or where it diverged)
    int64_t steps = 0;                // steps trained
    int64_t diverged_step = 0;        // 0: it did not diverge
    double seconds = 0;               // measuring and training this network
};

// Runs every (family, depth, variant), measuring at initialisation and then training from the
// same initial weights for base.max_steps steps. `on_point` sees each point as it is done.
// A stop request (stop.hpp) ends it after the current network: the points so far are returned.
std::vector<DepthStudyPoint> run_depth_study(
    const DepthStudyConfig& c, const Dataset& train_set, const Dataset& test_set,
    const std::function<void(const DepthStudyPoint&)>& on_point = {});

}  // namespace normgrad::train
