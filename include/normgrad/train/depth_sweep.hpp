// Gradient norms at initialisation as a function of depth, with and without BatchNorm.
#pragma once

#include <cstdint>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/train/models.hpp"

namespace normgrad::train {

struct DepthPoint {
    int depth;
    bool batchnorm;
    std::vector<double> dense_grad_norms;  // ||dL/dW|| of every Dense layer, input side first
    double first_over_last() const;        // first hidden layer's over the output layer's
};

// For each depth and BatchNorm off/on: an MLP built with `spec` (depth replaced), one forward
// and backward pass on each of `batches` batches of `batch` training images (the same images for
// every model), gradient norms averaged over the batches. No update is made: this is the network
// at initialisation.
std::vector<DepthPoint> depth_sweep(const ModelSpec& spec, const std::vector<int>& depths,
                                    const Dataset& data, int64_t batch, int batches, uint64_t seed);

}  // namespace normgrad::train
