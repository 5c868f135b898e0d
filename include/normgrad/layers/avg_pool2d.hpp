// AvgPool2d and GlobalAvgPool2d (layers/avg_pool2d.cpp). Part of layers.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "normgrad/module.hpp"
#include "normgrad/ops/avg_pool2d.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

// The mean of each kernel x kernel window, [N, C, H, W] -> [N, C, OH, OW]; padding counts as
// zeros in the mean (PyTorch's count_include_pad=True). Throws std::invalid_argument unless
// kernel >= 1, stride >= 0 (0: the same as kernel) and 0 <= padding <= kernel / 2.
class AvgPool2d : public Module {
  public:
    explicit AvgPool2d(int64_t kernel, int64_t stride = 0 /*0: = kernel*/, int64_t padding = 0);
    Tensor forward(const Tensor& x) override { return avg_pool2d(x, params); }
    std::string kind() const override { return "AvgPool2d"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
    Pool2dParams params;
};

// The mean over each channel's whole plane: [N, C, H, W] -> [N, C] (as in the head of a ResNet).
class GlobalAvgPool2d : public Module {
  public:
    Tensor forward(const Tensor& x) override { return global_avg_pool2d(x); }
    std::string kind() const override { return "GlobalAvgPool2d"; }
    static LayerExample example();
};

}  // namespace normgrad
