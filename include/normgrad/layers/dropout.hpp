// Dropout (layers/dropout.cpp). Part of layers.hpp.
#pragma once

#include <string>

#include "normgrad/module.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

// Inverted dropout, as torch.nn.Dropout. In training each element is kept with probability
// 1 - p and then scaled by 1 / (1 - p), so that its expected value is unchanged; the others are
// set to 0. The mask is drawn from training_rng() (random.hpp), a new one at every forward.
// In evaluation it is the identity. Throws std::invalid_argument unless 0 <= p < 1.
class Dropout : public Module {
  public:
    explicit Dropout(float p);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "Dropout"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
    float p() const { return p_; }

  private:
    float p_;
};

}  // namespace normgrad
