// GroupNorm, as torch.nn.GroupNorm (layers/group_norm.cpp). Part of layers.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "normgrad/module.hpp"

namespace normgrad {

struct LayerExample;  // layer_registry.hpp

// Input [N, C, ...] ([N, C], [N, C, L] or [N, C, H, W]). The C channels are split into `groups`
// groups of C / groups consecutive channels, and each example's group is normalised over its
// channels and positions together: y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c], with
// the *biased* variance. weight (ones) and bias (zeros) are per channel, [C]. Like LayerNorm the
// statistics are the example's own: the same in training and evaluation, no running statistics.
// The two ends: GroupNorm(1, C) is LayerNorm over (C, H, W) with a per-channel affine instead of
// a per-element one; GroupNorm(C, C) is InstanceNorm (each channel of each example alone).
// Throws std::invalid_argument when C is not divisible by groups.
class GroupNorm : public Module {
  public:
    GroupNorm(int64_t groups, int64_t channels, float eps = 1e-5f, bool affine = true);
    Tensor forward(const Tensor& x) override;
    std::string kind() const override { return "GroupNorm"; }
    std::string describe() const override;
    static LayerExample example();  // for the generic gradient test (layer_registry.hpp)
    int64_t groups, channels;
    float eps;
    Tensor weight, bias;  // [C] each (undefined without affine)
};

}  // namespace normgrad
