// A layer defined outside the library: LeakyReLU, y = x for x > 0 and slope * x otherwise.
// See docs/extending.md for the walk-through.
#pragma once

#include "normgrad/module.hpp"

namespace example {

class LeakyReLU : public normgrad::Module {
  public:
    explicit LeakyReLU(float slope = 0.01f) : slope_(slope) {}
    normgrad::Tensor forward(const normgrad::Tensor& x) override;
    std::string kind() const override { return "LeakyReLU"; }

  private:
    float slope_;
};

}  // namespace example
