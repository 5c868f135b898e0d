#include "normgrad/train/models.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "normgrad/layers/activations.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/layers/conv2d.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/layers/flatten.hpp"
#include "normgrad/layers/max_pool2d.hpp"

namespace normgrad::train {

namespace {

std::shared_ptr<Module> make_activation(Activation a) {
    switch (a) {
        case Activation::Sigmoid:
            return std::make_shared<Sigmoid>();
        case Activation::Tanh:
            return std::make_shared<Tanh>();
        case Activation::ReLU:
            break;
    }
    return std::make_shared<ReLU>();
}

std::shared_ptr<Sequential> build_mlp(const ModelSpec& s, Rng& rng) {
    auto m = std::make_shared<Sequential>();
    m->emplace<Flatten>("flatten");
    int64_t in = s.image_rows * s.image_cols;
    for (int i = 1; i <= s.depth; ++i) {
        m->emplace<Dense>(fmt::format("fc{}", i), in, s.hidden, rng, s.init);
        if (s.batchnorm) m->emplace<BatchNorm1d>(fmt::format("bn{}", i), s.hidden);
        m->add(fmt::format("act{}", i), make_activation(s.activation));
        in = s.hidden;
    }
    m->emplace<Dense>(fmt::format("fc{}", s.depth + 1), in, s.classes, rng, s.init);
    return m;
}

std::shared_ptr<Sequential> build_cnn(const ModelSpec& s, Rng& rng) {
    auto m = std::make_shared<Sequential>();
    m->emplace<Conv2d>("conv1", 1, 32, 3, rng, 1, 1, s.init);
    if (s.batchnorm) m->emplace<BatchNorm2d>("bn1", 32);
    m->add("act1", make_activation(s.activation));
    m->emplace<MaxPool2d>("pool1", 2);
    m->emplace<Conv2d>("conv2", 32, 64, 3, rng, 1, 1, s.init);
    if (s.batchnorm) m->emplace<BatchNorm2d>("bn2", 64);
    m->add("act2", make_activation(s.activation));
    m->emplace<MaxPool2d>("pool2", 2);
    m->emplace<Flatten>("flatten");
    const int64_t flat = 64 * (s.image_rows / 4) * (s.image_cols / 4);
    m->emplace<Dense>("fc1", flat, 128, rng, s.init);
    if (s.batchnorm) m->emplace<BatchNorm1d>("bn3", 128);
    m->add("act3", make_activation(s.activation));
    m->emplace<Dense>("fc2", 128, s.classes, rng, s.init);
    return m;
}

}  // namespace

std::shared_ptr<Sequential> build_model(const ModelSpec& spec, Rng& rng) {
    if (spec.kind == "mlp") {
        if (spec.depth < 1 || spec.hidden < 1)
            throw std::invalid_argument(
                fmt::format("mlp: --depth and --hidden must be at least 1, got {} and {}",
                            spec.depth, spec.hidden));
        return build_mlp(spec, rng);
    }
    if (spec.kind == "cnn") return build_cnn(spec, rng);
    throw std::invalid_argument(fmt::format("unknown model '{}' (expected mlp or cnn)", spec.kind));
}

std::string image_size_problem(const ModelSpec& spec, int64_t rows, int64_t cols) {
    if (spec.kind == "cnn" && (rows < 4 || cols < 4))
        return fmt::format("the cnn needs images of at least 4x4 (two 2x2 max-poolings), not {}x{}",
                           rows, cols);
    return "";
}

MemoryEstimate estimate_training_memory(const ModelSpec& s, int64_t batch,
                                        const std::string& optimizer, float momentum) {
    // In double: the point is to notice sizes that do not fit, however absurd.
    const double bn = s.batchnorm ? 1.0 : 0.0;
    const double pixels = double(s.image_rows) * double(s.image_cols);
    double params = 0.0, per_image = 0.0;  // trained values; activation floats per image
    if (s.kind == "cnn") {
        const double r = double(s.image_rows), c = double(s.image_cols);
        const double flat = 64.0 * std::floor(r / 4) * std::floor(c / 4);
        params = (9 * 1 * 32 + 32) + (9 * 32 * 64 + 64) + (flat * 128 + 128) + (128.0 * 10 + 10) +
                 bn * 2 * (32 + 64 + 128);
        // conv, [BN], act: each kept for the backward pass; then the pooled maps.
        per_image = pixels + 32 * pixels * (2 + bn) + 32 * pixels / 4 + 64 * pixels / 4 * (2 + bn) +
                    64 * pixels / 16 + 128 * (2 + bn) + 10;
        per_image *= 1.5;  // im2col / Winograd work space
    } else {
        const double h = double(s.hidden), d = double(s.depth);
        params = (pixels * h + h) + (d - 1) * (h * h + h) +
                 (h * double(s.classes) + double(s.classes)) + bn * d * 2 * h;
        per_image = pixels + d * h * (2 + bn) + double(s.classes);
    }
    MemoryEstimate e;
    e.state_copies = 2 + (optimizer == "sgd" ? (momentum > 0.f ? 1 : 0) : 2);
    const double cap = 1.8e19;  // stays within uint64
    e.parameters = uint64_t(std::min(params, cap));
    e.parameter_bytes = uint64_t(std::min(params * 4.0 * e.state_copies, cap));
    // Activations and, during the backward pass, their gradients.
    e.activation_bytes = uint64_t(std::min(double(batch) * per_image * 4.0 * 2.0, cap));
    return e;
}

std::string to_string(Activation a) {
    switch (a) {
        case Activation::Sigmoid:
            return "sigmoid";
        case Activation::Tanh:
            return "tanh";
        case Activation::ReLU:
            break;
    }
    return "relu";
}

Activation parse_activation(const std::string& s) {
    if (s == "relu") return Activation::ReLU;
    if (s == "sigmoid") return Activation::Sigmoid;
    if (s == "tanh") return Activation::Tanh;
    throw std::invalid_argument(
        fmt::format("unknown activation '{}' (expected relu, sigmoid or tanh)", s));
}

}  // namespace normgrad::train
