// The trainer's models: names, shapes, and identical initial weights with BatchNorm off and on.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/group_norm.hpp"
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

namespace {

std::vector<std::string> parameter_names(const Module& m) {
    std::vector<std::string> names;
    for (auto& p : m.parameters()) names.push_back(p.name + " " + p.tensor.shape().str());
    return names;
}

train::ModelSpec arch(const std::string& text, train::Norm norm = {}) {
    train::ModelSpec s;
    s.kind = "arch";
    s.arch = text;
    s.norm = norm;
    return s;
}

const char* kResNet =
    "conv3x3:32,norm,relu,maxpool2,res(conv3x3:32,norm,relu,conv3x3:32,norm),relu,gap,dense:10";

}  // namespace

TEST_CASE("models: the presets are specs, and build as before", "[models]") {
    train::ModelSpec mlp;
    CHECK(train::spec_text(mlp) == "dense:256,norm,act,dense:256,norm,act,dense:10");
    train::ModelSpec resmlp;
    resmlp.kind = "resmlp";
    resmlp.hidden = 64;
    resmlp.depth = 3;
    CHECK(train::spec_text(resmlp) ==
          "dense:64,norm,act,res(dense:64,norm,act),res(dense:64,norm,act),res(dense:64,norm,act),"
          "dense:10");
    {
        Rng rng(1);
        resmlp.norm = train::Norm::batch();
        auto m = train::build_model(resmlp, rng);
        CHECK(m->parameters().size() == 2 + 2 + 3 * 4 + 2);  // fc1, bn1, three blocks, fc2
        autograd::NoGradGuard no_grad;
        m->eval();
        CHECK((*m)(Tensor::zeros({2, 1, 28, 28})).shape() == Shape{2, 10});
    }
    train::ModelSpec cnn;
    cnn.kind = "cnn";
    CHECK(train::spec_text(cnn) ==
          "conv3x3:32,norm,act,maxpool2,conv3x3:64,norm,act,maxpool2,flatten,dense:128,norm,act,"
          "dense:10");
    // The preset and its spec given as --arch are the same model, weight for weight.
    for (const train::ModelSpec& preset : {mlp, cnn}) {
        train::ModelSpec as_arch = arch(train::spec_text(preset), train::Norm::batch());
        train::ModelSpec p = preset;
        p.norm = train::Norm::batch();
        Rng a(3), b(3);
        auto m1 = train::build_model(p, a), m2 = train::build_model(as_arch, b);
        REQUIRE(m1->state().size() == m2->state().size());
        for (size_t i = 0; i < m1->state().size(); ++i) {
            CHECK(m1->state()[i].name == m2->state()[i].name);
            CHECK(m1->state()[i].tensor.to_vector() == m2->state()[i].tensor.to_vector());
        }
    }
    CHECK(train::describe_layers(cnn) ==
          std::vector<std::string>{"conv1 [32, 28, 28]", "act1 [32, 28, 28]", "pool1 [32, 14, 14]",
                                   "conv2 [64, 14, 14]", "act2 [64, 14, 14]", "pool2 [64, 7, 7]",
                                   "flatten [3136]", "fc1 [128]", "act3 [128]", "fc2 [10]"});
}

TEST_CASE("models: the issue's specs build, with names by kind and count", "[models]") {
    Rng rng(0);
    auto cnn = train::build_model(arch(kResNet, train::Norm::batch()), rng);
    CHECK(parameter_names(*cnn) ==
          std::vector<std::string>{
              "conv1.weight [32, 1, 3, 3]", "conv1.bias [32]", "bn1.weight [32]", "bn1.bias [32]",
              "res1.conv1.weight [32, 32, 3, 3]", "res1.conv1.bias [32]", "res1.bn1.weight [32]",
              "res1.bn1.bias [32]", "res1.conv2.weight [32, 32, 3, 3]", "res1.conv2.bias [32]",
              "res1.bn2.weight [32]", "res1.bn2.bias [32]", "fc1.weight [10, 32]",
              "fc1.bias [10]"});
    autograd::NoGradGuard no_grad;
    CHECK((*cnn)(Tensor::zeros({3, 1, 28, 28})).shape() == Shape{3, 10});

    auto mlp =
        train::build_model(arch("dense:64,norm,relu,dense:10", {train::Norm::Kind::Layer, 0}), rng);
    CHECK(parameter_names(*mlp) ==
          std::vector<std::string>{"fc1.weight [64, 784]", "fc1.bias [64]", "ln1.weight [64]",
                                   "ln1.bias [64]", "fc2.weight [10, 64]", "fc2.bias [10]"});
    CHECK((*mlp)(Tensor::zeros({2, 1, 28, 28})).shape() == Shape{2, 10});
}

TEST_CASE("models: each normalisation, with the same weights in every shared layer", "[models]") {
    using K = train::Norm::Kind;
    const std::vector<train::Norm> norms{{K::None, 0},  {K::Batch, 0}, {K::Layer, 0},
                                         {K::Group, 0}, {K::Group, 4}, {K::RMS, 0}};
    const std::vector<std::string> first_norm{"",
                                              "bn1.weight [32]",
                                              "ln1.weight [32, 28, 28]",
                                              "gn1.weight [32]",
                                              "gn1.weight [32]",
                                              "rms1.weight [32, 28, 28]"};
    std::map<std::string, std::vector<float>> shared;
    for (size_t i = 0; i < norms.size(); ++i) {
        INFO(train::to_string(norms[i]));
        Rng rng(11);
        auto m = train::build_model(arch(kResNet, norms[i]), rng);
        const auto names = parameter_names(*m);
        if (i > 0) CHECK(names.at(2) == first_norm[i]);
        for (auto& p : m->parameters()) {
            const bool weight_layer =
                p.name.find("conv") != std::string::npos || p.name.find("fc") != std::string::npos;
            if (!weight_layer) continue;
            auto [it, fresh] = shared.emplace(p.name, p.tensor.to_vector());
            if (!fresh) CHECK(it->second == p.tensor.to_vector());
        }
        autograd::NoGradGuard no_grad;
        m->train();
        CHECK((*m)(Tensor::zeros({4, 1, 28, 28})).shape() == Shape{4, 10});
    }
    // GroupNorm's default groups: the largest up to 8 dividing the channels.
    Rng rng(0);
    auto m = train::build_model(arch("dense:12,norm,relu,dense:10", {K::Group, 0}), rng);
    const auto* gn = dynamic_cast<const GroupNorm*>(m->children().at(2).second.get());
    REQUIRE(gn != nullptr);  // flatten, fc1, gn1
    CHECK(gn->groups == 6);
}

TEST_CASE("models: a residual block whose shapes differ gets a 1x1 projection", "[models]") {
    Rng rng(0);
    auto m = train::build_model(
        arch("conv3x3:8,res(conv3x3:16:s2,relu,conv3x3:16),gap,dense:64,res(dense:32),dense:10"),
        rng);
    const auto names = parameter_names(*m);
    CHECK(std::find(names.begin(), names.end(), "res1.proj.weight [16, 8, 1, 1]") != names.end());
    CHECK(std::find(names.begin(), names.end(), "res2.proj.weight [32, 64]") != names.end());
    CHECK(train::describe_layers(arch("conv3x3:8,res(conv3x3:16:s2),gap,dense:10")) ==
          std::vector<std::string>{"conv1 [8, 28, 28]", "res1.conv1 [16, 14, 14]",
                                   "res1.proj [16, 14, 14]", "res1 [16, 14, 14]", "gap [16]",
                                   "fc1 [10]"});
    autograd::NoGradGuard no_grad;
    CHECK((*m)(Tensor::zeros({2, 1, 28, 28})).shape() == Shape{2, 10});
}

TEST_CASE("models: the memory estimate counts the parameters the model has", "[models]") {
    for (const std::string& text :
         {std::string(kResNet), std::string("dense:64,norm,relu,dense:10"),
          std::string("conv3x3:8,res(conv3x3:16:s2,relu,conv3x3:16),gap,dense:64,res(dense:32),"
                      "dense:10")})
        for (train::Norm n :
             {train::Norm::none(), train::Norm::batch(), train::Norm{train::Norm::Kind::Layer, 0},
              train::Norm{train::Norm::Kind::RMS, 0}}) {
            INFO(text << " " << train::to_string(n));
            Rng rng(0);
            auto m = train::build_model(arch(text, n), rng);
            int64_t count = 0;
            for (auto& p : m->parameters()) count += p.tensor.numel();
            CHECK(train::estimate_training_memory(arch(text, n), 128, "sgd", 0.9f).parameters ==
                  uint64_t(count));
        }
}

TEST_CASE("models: spec errors name the token, its position and why", "[models]") {
    using Catch::Matchers::Contains;
    const auto problem = [](const std::string& text) {
        return train::image_size_problem(arch(text), 28, 28);
    };
    CHECK(problem(kResNet).empty());
    CHECK_THAT(problem("dense:64,conv3x3:8,gap,dense:10"),
               Contains("'conv3x3:8' at character 10: a convolution needs images"));
    CHECK_THAT(problem("conv3x3:8,res(conv3x3:8,gap),dense:10"),
               Contains("'res(...)' at character 11: the block turns its input [8, 28, 28] into "
                        "[8]"));
    CHECK_THAT(problem("dense:64"), Contains("the model ends with [64], but the data has 10"));
    CHECK_THAT(train::image_size_problem(arch(kResNet), 1, 1),
               Contains("'maxpool2' at character 22: a 2x2 pooling window does not fit the 1x1"));
}
