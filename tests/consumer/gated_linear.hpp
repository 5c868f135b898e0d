// The consumer's own layer, in one file: a gated linear unit,
//     y = (x W^T + b) * sigmoid(x V^T + c),
// written with normgrad's tape operations alone, so the tape derives its backward.
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include "normgrad/layer_registry.hpp"
#include "normgrad/module.hpp"
#include "normgrad/ops/activations.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/matmul.hpp"
#include "normgrad/random.hpp"

namespace consumer {

class GatedLinear : public normgrad::Module {
  public:
    GatedLinear(int64_t in, int64_t out, normgrad::Rng& rng) {
        using normgrad::Tensor;
        const float bound = 1.f / std::sqrt(static_cast<float>(in));
        w_ = register_parameter("weight", Tensor::uniform({out, in}, rng, -bound, bound));
        b_ = register_parameter("bias", Tensor::uniform({out}, rng, -bound, bound), true);
        v_ = register_parameter("gate_weight", Tensor::uniform({out, in}, rng, -bound, bound));
        c_ = register_parameter("gate_bias", Tensor::uniform({out}, rng, -bound, bound), true);
    }
    normgrad::Tensor forward(const normgrad::Tensor& x) override {
        using namespace normgrad;
        return mul(linear(x, w_, b_), sigmoid(linear(x, v_, c_)));
    }
    std::string kind() const override { return "GatedLinear"; }

    // Its example for the generic gradient check (normgrad/layer_registry.hpp).
    static normgrad::LayerExample example() {
        return {"GatedLinear", normgrad::Shape({4, 5}),
                [](normgrad::Rng& rng) { return std::make_shared<GatedLinear>(5, 3, rng); }};
    }

  private:
    normgrad::Tensor w_, b_, v_, c_;
};

}  // namespace consumer
