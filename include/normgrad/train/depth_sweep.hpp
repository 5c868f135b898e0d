// Gradient norms at initialisation, as a function of depth and of the normalisation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/train/models.hpp"

namespace normgrad::train {

struct DepthPoint {
    int depth;  // hidden layers of the mlp; 0 for a model of fixed shape (--arch, cnn)
    Norm norm;
    std::vector<std::string> layers;        // every Dense and Conv2d, input side first
    std::vector<double> weight_grad_norms;  // ||dL/dW|| of each of them
    // The first layer's over the last's (the input layer's over the output layer's).
    double first_over_last() const;
};

// Which training images the sweep uses: `batches` batches of `batch` images, taken in the
// order of the run's first epoch (--seed), or, with fixed_batch, in file order (images 0..B-1,
// then B..2B-1, ...), so that the numbers can be checked in any other framework without
// reproducing normgrad's random streams.
struct SweepData {
    int64_t batch = 128;
    int batches = 5;
    uint64_t seed = 0;
    bool fixed_batch = false;
};

// For each depth (an mlp) or once (any other model), and each normalisation: the model built
// from `spec` with Rng(seed), in training mode, one forward and backward pass on each batch (the
// same images for every model), gradient norms averaged over the batches. No update is made:
// this is the network at initialisation.
std::vector<DepthPoint> depth_sweep(const ModelSpec& spec, const std::vector<int>& depths,
                                    const std::vector<Norm>& norms, const Dataset& data,
                                    const SweepData& how);

}  // namespace normgrad::train
