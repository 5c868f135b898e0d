// How Dense and Conv2d initialise their weights. Part of layers.hpp.
#pragma once

namespace normgrad {

// PyTorchDefault is what torch.nn does (Kaiming-uniform with a = sqrt(5), i.e.
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias). Normal draws weights
// from N(0, std^2) and sets biases to 0: the deliberately poor initialisations of the BatchNorm
// study.
struct Init {
    enum class Kind { PyTorchDefault, Normal } kind = Kind::PyTorchDefault;
    float std = 0.f;
    static Init pytorch() { return {}; }
    static Init normal(float std) { return {Kind::Normal, std}; }
};

}  // namespace normgrad
