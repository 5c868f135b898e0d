// The generic layer test: every layer example (the built-in layers' and those the program adds,
// layer_registry.hpp) has its input and parameter gradients checked by finite differences, in
// training and in evaluation mode.
#include <catch2/catch.hpp>

#include <cmath>

#include "normgrad/layer_registry.hpp"
#include "normgrad/ops/activations.hpp"
#include "normgrad/ops/elementwise.hpp"

using namespace normgrad;

TEST_CASE("every layer example passes the finite-difference gradient check",
          "[layers][gradcheck]") {
    for (const LayerExample& ex : layer_examples()) {
        for (bool training : {true, false}) {
            DYNAMIC_SECTION(ex.name << (training ? " (train)" : " (eval)")) {
                GradCheckResult r = check_layer_example(ex, training);
                INFO(r.report);
                CHECK(r.ok);
            }
        }
    }
}

TEST_CASE("layer examples: each built-in layer once, then the program's own", "[layers]") {
    std::vector<std::string> names;
    for (const LayerExample& ex : layer_examples()) {
        names.push_back(ex.name);
        // An example builds the layer it is named after (a copied line would not).
        Rng rng(1);
        CHECK(ex.make(rng)->kind() == ex.name);
        // Dropout alone is random in training, and no example sets a flag that is not defined.
        CHECK((ex.flags & ~kRandomInTraining) == 0);
        CHECK(((ex.flags & kRandomInTraining) != 0) == (ex.name == "Dropout"));
    }
    // The last one is the LeakyReLU of examples/custom_layer/, registered from its own file
    // (leaky_relu_example.cpp), which examples/CMakeLists.txt adds to this binary.
    const std::vector<std::string> expected{
        "Dense",      "Conv2d",    "BatchNorm1d",     "BatchNorm2d", "LayerNorm", "GroupNorm",
        "RMSNorm",    "ReLU",      "Sigmoid",         "Tanh",        "Flatten",   "MaxPool2d",
        "Sequential", "AvgPool2d", "GlobalAvgPool2d", "Dropout",     "Residual",  "LeakyReLU",
    };
    CHECK(names == expected);
    CHECK(builtin_layer_examples().size() == expected.size() - 1);
}

namespace {

// y = x + x^2, where the x^2 term is computed from the values, off the tape: the tape's
// gradient is 1 where the true one is 1 + 2x.
class HiddenSquare : public Module {
  public:
    Tensor forward(const Tensor& x) override {
        std::vector<float> sq(static_cast<size_t>(x.numel()));
        for (size_t i = 0; i < sq.size(); ++i) sq[i] = x.data()[i] * x.data()[i];
        return add(x, Tensor::from(x.shape(), sq));
    }
    std::string kind() const override { return "HiddenSquare"; }
};

// A parameter the output does not depend on: both of its gradients are zero.
class UnusedParameter : public Module {
  public:
    UnusedParameter() { register_parameter("unused", Tensor::ones({3})); }
    Tensor forward(const Tensor& x) override { return relu(x); }
    std::string kind() const override { return "UnusedParameter"; }
};

}  // namespace

TEST_CASE("the generic layer check fails a wrong gradient and a parameter it cannot check",
          "[layers][gradcheck]") {
    const LayerExample hidden{"HiddenSquare", Shape({3, 4}),
                              [](Rng&) { return std::make_shared<HiddenSquare>(); }};
    for (bool training : {true, false}) {
        GradCheckResult r = check_layer_example(hidden, training);
        INFO(r.report);
        CHECK_FALSE(r.ok);
        CHECK(r.report.rfind(training ? "HiddenSquare (train):" : "HiddenSquare (eval):", 0) == 0);
        CHECK(r.report.find("input [3, 4]") != std::string::npos);
    }
    const LayerExample unused{"UnusedParameter", Shape({3, 4}),
                              [](Rng&) { return std::make_shared<UnusedParameter>(); }};
    GradCheckResult r = check_layer_example(unused, true);
    INFO(r.report);
    CHECK_FALSE(r.ok);
    CHECK(r.report.find("unused: analytic and numeric gradients are all zero") !=
          std::string::npos);
}
