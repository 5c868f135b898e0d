// Mini-batches from an in-memory MNIST-format data set.
//
// The data set stays as bytes (60,000 x 784 bytes = 47 MB for MNIST, a quarter of the floats);
// each batch is converted on the fly: pixel / 255, then (by default) standardised with MNIST's
// mean 0.1307 and standard deviation 0.3081, as in PyTorch's MNIST examples (--input).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/random.hpp"
#include "normgrad/tensor.hpp"

namespace normgrad::train {

inline constexpr float kMnistMean = 0.1307f;
inline constexpr float kMnistStd = 0.3081f;

// What the model sees of a pixel p in 0..255 (--input): standardize, (p / 255 - 0.1307) / 0.3081,
// as PyTorch's MNIST examples (for Fashion-MNIST too: one rule for both data sets); or unit,
// p / 255 in [0, 1], as the BatchNorm papers' protocols.
enum class InputScaling { Standardize, Unit };
std::string to_string(InputScaling s);
InputScaling parse_input_scaling(const std::string& s);  // throws std::invalid_argument

struct Batch {
    Tensor images;                // [B, 1, H, W]
    std::vector<int32_t> labels;  // B labels
};

// The random stream that orders a run's training images, apart from the one that initialises
// its weights (Rng(seed)), so that changing the model does not change the data order.
inline Rng data_order_rng(uint64_t seed) {
    return Rng(seed ^ 0x5eedda7aull);
}

// The seed of training_rng() (random.hpp: Dropout's masks) for a run's --seed.
inline uint64_t training_rng_seed(uint64_t seed) {
    return seed ^ 0xd209a0c7ull;
}

// The order of one epoch: a Fisher-Yates shuffle of 0..count-1 driven by `rng`
// (or 0..count-1 in order when rng is null).
std::vector<int64_t> epoch_order(int64_t count, Rng* rng);

// Images order[first .. first + size) of `data` as a batch.
Batch make_batch(const Dataset& data, const std::vector<int64_t>& order, int64_t first,
                 int64_t size, InputScaling scaling = InputScaling::Standardize);

}  // namespace normgrad::train
