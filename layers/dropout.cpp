// Dropout: a random mask times the input, written with the tape's `mul`, so its backward comes
// from mul's: dL/dx = dL/dy * mask, the gradient of a dropped element being 0 and of a kept one
// dL/dy / (1 - p).
#include "normgrad/layers/dropout.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "normgrad/layer_registry.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/random.hpp"

namespace normgrad {

Dropout::Dropout(float p) : p_(p) {
    // Written so that NaN fails too. p = 1 would drop everything and divide by zero.
    if (!(p >= 0.f && p < 1.f))
        throw std::invalid_argument(
            fmt::format("Dropout: p = {} is outside [0, 1): p is the probability of dropping an "
                        "element, at least 0 and less than 1",
                        p));
}

Tensor Dropout::forward(const Tensor& x) {
    if (!is_training() || p_ == 0.f) return x;  // the identity (and nothing drawn)
    // Keep an element when a uniform draw in [0, 1) is >= p: probability 1 - p. The mask is a
    // constant of this forward pass (no gradient flows into it).
    const float keep_scale = 1.f / (1.f - p_);
    Rng& rng = training_rng();
    std::vector<float> mask(static_cast<size_t>(x.numel()));
    for (float& m : mask) m = rng.uniform() >= p_ ? keep_scale : 0.f;
    return mul(x, Tensor::from(x.shape(), mask));
}

std::string Dropout::describe() const {
    return fmt::format("Dropout(p = {})", p_);
}

// kRandomInTraining: the generic check re-seeds training_rng() before every evaluation, so that
// the finite differences see the same mask as the tape.
LayerExample Dropout::example() {
    return {"Dropout", Shape({4, 6}), [](Rng&) { return std::make_shared<Dropout>(0.3f); },
            kRandomInTraining};
}

}  // namespace normgrad
