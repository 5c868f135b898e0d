#include "normgrad/train/models.hpp"

#include <fmt/format.h>

#include <stdexcept>

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
