// How Dense and Conv2d initialise their weights. Part of layers.hpp.
#pragma once

namespace normgrad {

// PyTorchDefault is what torch.nn does (Kaiming-uniform with a = sqrt(5), i.e.
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias).
// He is He et al. (2015)'s normal initialisation for ReLU networks, N(0, 2 / fan_in)
// (torch.nn.init.kaiming_normal_ with its defaults); Xavier is Glorot and Bengio (2010)'s
// uniform one, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (torch.nn.init.xavier_uniform_).
// Normal draws weights from N(0, std^2) whatever the layer's size: the deliberately poor
// initialisations of the BatchNorm study. He, Xavier and Normal set biases to 0.
// For a convolution fan_in = in_channels * k * k and fan_out = out_channels * k * k.
struct Init {
    enum class Kind { PyTorchDefault, He, Xavier, Normal } kind = Kind::PyTorchDefault;
    float std = 0.f;  // Normal only
    static Init pytorch() { return {}; }
    static Init he() { return {Kind::He, 0.f}; }
    static Init xavier() { return {Kind::Xavier, 0.f}; }
    static Init normal(float std) { return {Kind::Normal, std}; }
    bool operator==(const Init&) const = default;
};

}  // namespace normgrad
