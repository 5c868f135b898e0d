// Residual: parameter names under the block's name, y = body(x) + x or + proj(x), a clear error
// when the shapes differ, the constructor's checks, and the generic gradient check of a block
// with the identity shortcut (the registered example has a projection and a nested identity
// block; test_layers_gradcheck.cpp checks it).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "normgrad/layer_registry.hpp"
#include "normgrad/layers/activations.hpp"
#include "normgrad/layers/conv2d.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/layers/dropout.hpp"
#include "normgrad/layers/residual.hpp"
#include "normgrad/layers/sequential.hpp"

using namespace normgrad;

namespace {

std::shared_ptr<Residual> dense_block(Rng& rng, int64_t in = 5, int64_t out = 5) {
    return std::make_shared<Residual>(Residual::Layers{
        {"fc1", std::make_shared<Dense>(in, out, rng)}, {"act1", std::make_shared<Tanh>()}});
}

}  // namespace

TEST_CASE("Residual: children and parameter names under the block's name", "[layers][residual]") {
    Rng rng(1);
    auto conv1 = std::make_shared<Conv2d>(2, 3, 3, rng, 1, 1);
    auto proj = std::make_shared<Conv2d>(2, 3, 1, rng);
    Sequential model;
    model.add("res1",
              std::make_shared<Residual>(
                  Residual::Layers{{"conv1", conv1}, {"act1", std::make_shared<ReLU>()}}, proj));
    model.add("res2", dense_block(rng, 27, 27));
    std::vector<std::string> names;
    for (const Parameter& p : model.parameters()) names.push_back(p.name);
    CHECK(names == std::vector<std::string>{"res1.conv1.weight", "res1.conv1.bias",
                                            "res1.proj.weight", "res1.proj.bias", "res2.fc1.weight",
                                            "res2.fc1.bias"});

    const auto& block = dynamic_cast<const Residual&>(*model.children()[0].second);
    REQUIRE(block.body().size() == 2);
    CHECK(block.body()[0].first == "conv1");
    CHECK(block.body()[0].second == conv1);
    CHECK(block.projection() == proj);
    CHECK(block.children().size() == 3);  // the body, then "proj"
    CHECK(block.children().back().first == "proj");
    CHECK(dense_block(rng)->projection() == nullptr);
    CHECK(block.describe().find("proj: Conv2d") != std::string::npos);
}

TEST_CASE("Residual: y = body(x) + x, and + proj(x) with a projection", "[layers][residual]") {
    Rng rng(2);
    auto block = dense_block(rng);
    const Tensor x = Tensor::randn({4, 5}, rng);
    const Tensor body = (*block->body()[1].second)((*block->body()[0].second)(x));
    const std::vector<float> y = (*block)(x).to_vector();
    for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == body.data()[i] + x.data()[i]);

    auto fc = std::make_shared<Dense>(5, 3, rng);
    auto proj = std::make_shared<Dense>(5, 3, rng);
    Residual projected(Residual::Layers{{"fc", fc}}, proj);
    const Tensor a = (*fc)(x), b = (*proj)(x);
    const std::vector<float> z = projected(x).to_vector();
    REQUIRE(z.size() == 12);
    for (size_t i = 0; i < z.size(); ++i) CHECK(z[i] == a.data()[i] + b.data()[i]);
}

TEST_CASE("Residual: train and eval reach the body", "[layers][residual]") {
    // Dropout in the body: in evaluation the block is x + x.
    Residual block(Residual::Layers{{"drop", std::make_shared<Dropout>(0.5f)}});
    block.eval();
    const Tensor x = Tensor::full({2, 3}, 1.5f);
    CHECK(block(x).to_vector() == std::vector<float>(6, 3.f));
    CHECK_FALSE(block.body()[0].second->is_training());
}

TEST_CASE("Residual: shapes that differ need a projection", "[layers][residual]") {
    Rng rng(3);
    auto narrowing = dense_block(rng, 5, 3);
    const Tensor x = Tensor::randn({4, 5}, rng);
    CHECK_THROWS_AS((*narrowing)(x), ShapeError);
    CHECK_THROWS_WITH((*narrowing)(x), Catch::Contains("[4, 3]") && Catch::Contains("[4, 5]") &&
                                           Catch::Contains("projection is needed"));
    // A projection to the wrong shape is named as such.
    Residual wrong(Residual::Layers{{"fc", std::make_shared<Dense>(5, 3, rng)}},
                   std::make_shared<Dense>(5, 2, rng));
    CHECK_THROWS_WITH(wrong(x), Catch::Contains("[4, 3]") && Catch::Contains("[4, 2]") &&
                                    Catch::Contains("projection's output"));
}

TEST_CASE("Residual: an empty body, a null layer and a name used twice are refused",
          "[layers][residual]") {
    Rng rng(4);
    CHECK_THROWS_AS(Residual(Residual::Layers{}), std::invalid_argument);
    CHECK_THROWS_WITH(Residual(Residual::Layers{{"fc", nullptr}}), Catch::Contains("'fc'"));
    CHECK_THROWS_AS(Residual(Residual::Layers{{"a", std::make_shared<Tanh>()},
                                              {"a", std::make_shared<Tanh>()}}),
                    std::invalid_argument);
    CHECK_THROWS_WITH(Residual(Residual::Layers{{"proj", std::make_shared<Dense>(3, 3, rng)}},
                               std::make_shared<Dense>(3, 3, rng)),
                      Catch::Contains("'proj'"));
    // Without a projection, a body layer may be called "proj".
    CHECK_NOTHROW(Residual(Residual::Layers{{"proj", std::make_shared<Tanh>()}}));
}

TEST_CASE("Residual: the generic gradient check of a Dense block with the identity shortcut",
          "[layers][residual][gradcheck]") {
    const LayerExample identity{"Residual", Shape({4, 5}),
                                [](Rng& rng) { return dense_block(rng); }};
    for (bool training : {true, false}) {
        GradCheckResult r = check_layer_example(identity, training);
        INFO(r.report);
        CHECK(r.ok);
    }
}
