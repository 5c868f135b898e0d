// The trainer's models: names, shapes, and identical initial weights with BatchNorm off and on.
#include <catch2/catch.hpp>
#include <map>

#include "normgrad/autograd.hpp"
#include "normgrad/train/models.hpp"

using namespace normgrad;

TEST_CASE("models: shared layers start from the same weights with BatchNorm off and on",
          "[models]") {
    for (const char* kind : {"mlp", "cnn"}) {
        train::ModelSpec spec;
        spec.kind = kind;
        Rng a(5), b(5);
        spec.norm = train::Norm::none();
        auto off = train::build_model(spec, a);
        spec.norm = train::Norm::batch();
        auto on = train::build_model(spec, b);
        std::map<std::string, Tensor> on_params;
        for (auto& p : on->parameters()) on_params[p.name] = p.tensor;
        for (auto& p : off->parameters()) {
            INFO(kind << " " << p.name);
            REQUIRE(on_params.count(p.name) == 1);
            CHECK(on_params[p.name].to_vector() == p.tensor.to_vector());
        }
        CHECK(on->parameters().size() > off->parameters().size());  // gamma and beta
    }
}

TEST_CASE("models: the mlp is 784-256-256-10 and the cnn has the documented shapes", "[models]") {
    Rng rng(0);
    train::ModelSpec spec;
    auto mlp = train::build_model(spec, rng);
    std::vector<std::string> names;
    for (auto& p : mlp->parameters()) names.push_back(p.name + " " + p.tensor.shape().str());
    CHECK(names == std::vector<std::string>{"fc1.weight [256, 784]", "fc1.bias [256]",
                                            "fc2.weight [256, 256]", "fc2.bias [256]",
                                            "fc3.weight [10, 256]", "fc3.bias [10]"});
    spec.kind = "cnn";
    spec.norm = train::Norm::batch();
    auto cnn = train::build_model(spec, rng);
    autograd::NoGradGuard no_grad;
    cnn->eval();
    CHECK((*cnn)(Tensor::zeros({2, 1, 28, 28})).shape() == Shape{2, 10});
    CHECK(cnn->buffers().size() == 9);  // three BatchNorm layers, three buffers each
    spec.kind = "resnet";
    CHECK_THROWS_WITH(train::build_model(spec, rng), Catch::Matchers::Contains("unknown model"));
}
