// Test inputs drawn from a normal distribution, each tensor from its own seeded stream, so that a
// test's values do not depend on which tensors other tests drew before it.
#pragma once

#include <cstdint>

#include "normgrad/random.hpp"
#include "normgrad/tensor.hpp"

namespace normgrad::testing {

inline Tensor randn(const Shape& shape, uint64_t seed, float mean, float std) {
    Rng rng(seed);
    return Tensor::randn(shape, rng, mean, std);
}

// Mean 0: randn(shape, seed, std).
inline Tensor randn(const Shape& shape, uint64_t seed, float std = 1.f) {
    return randn(shape, seed, 0.f, std);
}

}  // namespace normgrad::testing
