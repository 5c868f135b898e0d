// The classification loss (src/ops/cross_entropy.cpp). Part of ops.hpp; conventions there.
#pragma once

#include <cstdint>
#include <span>

#include "normgrad/tensor.hpp"

namespace normgrad {

// Mean over the batch of -log softmax(logits)[label]; logits [N, K], labels in [0, K).
Tensor cross_entropy(const Tensor& logits, std::span<const int32_t> labels);

}  // namespace normgrad
