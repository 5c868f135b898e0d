// Folding BatchNorm into the layer before it (train/fold.cpp) and recomputing its population
// statistics (train/recalibrate.cpp), on models built from specs with random statistics and
// generated images.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/train/fold.hpp"
#include "normgrad/train/model_io.hpp"
#include "normgrad/train/recalibrate.hpp"

using namespace normgrad;
using namespace normgrad::train;
using Catch::Matchers::Contains;

namespace {

ModelSpec arch_spec(const std::string& text, Norm norm, int64_t size = 8) {
    ModelSpec s;
    s.kind = "arch";
    s.arch = text;
    s.norm = norm;
    s.image_rows = s.image_cols = size;
    return s;
}

std::vector<BatchNorm*> batch_norms(Module& m) {
    std::vector<BatchNorm*> out;
    if (auto* bn = dynamic_cast<BatchNorm*>(&m)) out.push_back(bn);
    for (const auto& [name, child] : m.children()) {
        auto inner = batch_norms(*child);
        out.insert(out.end(), inner.begin(), inner.end());
    }
    return out;
}

// Gamma, beta and the running statistics away from their initial values, so that every part of
// the fold matters (gamma not 1, beta not 0, mean not 0, var not 1).
void randomise_batch_norms(Module& m, Rng& rng) {
    for (BatchNorm* bn : batch_norms(m)) {
        const Shape c{bn->num_features};
        bn->gamma.copy_from(Tensor::uniform(c, rng, 0.5f, 1.5f));
        bn->beta.copy_from(Tensor::uniform(c, rng, -0.5f, 0.5f));
        bn->running_mean.copy_from(Tensor::uniform(c, rng, -0.5f, 0.5f));
        bn->running_var.copy_from(Tensor::uniform(c, rng, 0.5f, 2.0f));
    }
}

Dataset random_images(int64_t count, int64_t rows, int64_t cols, uint64_t seed) {
    Rng rng(seed);
    Dataset d;
    d.count = count;
    d.rows = rows;
    d.cols = cols;
    for (int64_t i = 0; i < count * rows * cols; ++i) d.images.push_back(uint8_t(rng.below(256)));
    for (int64_t i = 0; i < count; ++i) d.labels.push_back(uint8_t(rng.below(10)));
    return d;
}

// Evaluation outputs of both models on the same input, to 1e-5 (relative above 1).
void check_same_eval_outputs(Module& a, Module& b, const Tensor& x) {
    autograd::NoGradGuard no_grad;
    a.eval();
    b.eval();
    const std::vector<float> ya = a(x).to_vector(), yb = b(x).to_vector();
    REQUIRE(ya.size() == yb.size());
    double worst = 0.0;
    for (size_t i = 0; i < ya.size(); ++i)
        worst = std::max(worst, std::abs(double(ya[i]) - double(yb[i])) /
                                    std::max(1.0, std::abs(double(ya[i]))));
    INFO("largest difference " << worst);
    CHECK(worst < 1e-5);
}

std::vector<std::vector<float>> parameter_values(const Module& m) {
    std::vector<std::vector<float>> out;
    for (const Parameter& p : m.parameters()) out.push_back(p.tensor.to_vector());
    return out;
}

}  // namespace

TEST_CASE("fold: the folded model gives the original's evaluation outputs", "[fold]") {
    struct Case {
        std::string name;
        ModelSpec spec;
        ModelSpec folded;  // what the folded spec should be
    };
    ModelSpec mlp;
    mlp.kind = "mlp";
    mlp.hidden = 32;
    mlp.norm = Norm::batch();
    ModelSpec mlp_folded = mlp;
    mlp_folded.norm = Norm::none();
    ModelSpec cnn = mlp;
    cnn.kind = "cnn";
    ModelSpec cnn_folded = mlp_folded;
    cnn_folded.kind = "cnn";
    const std::string res =
        "conv3x3:8,norm,relu,res(conv3x3:8,norm,relu,conv3x3:8,norm),relu,gap,"
        "dense:10";
    // Explicit batchnorm tokens next to --norm layer: the LayerNorms stay (and are renamed:
    // ln2 becomes ln1), the BatchNorms go from the spec's text; two BatchNorms in a row fold
    // into the same layer; a strided convolution and a dense projection in residual blocks.
    const std::string mixed =
        "conv3x3:4:s2, batchnorm ,relu,conv3x3:6,norm,relu,res(conv3x3:8,batchnorm,relu),"
        "dense:16,batchnorm,batchnorm,relu,res(dense:12,batchnorm),dense:10";
    const Case cases[] = {
        {"mlp", mlp, mlp_folded},
        {"cnn", cnn, cnn_folded},
        {"residual", arch_spec(res, Norm::batch()), arch_spec(res, Norm::none())},
        {"mixed", arch_spec(mixed, {Norm::Kind::Layer, 0}),
         arch_spec("conv3x3:4:s2 ,relu,conv3x3:6,norm,relu,res(conv3x3:8,relu),dense:16,relu,"
                   "res(dense:12),dense:10",
                   {Norm::Kind::Layer, 0})},
    };
    for (const Case& c : cases) {
        SECTION(c.name) {
            Rng rng(7);
            auto model = build_model(c.spec, rng);
            randomise_batch_norms(*model, rng);
            const auto before = model->state();
            std::vector<std::vector<float>> values;
            for (const auto& t : before) values.push_back(t.tensor.to_vector());

            const FoldedModel f = fold_batch_norm(*model, c.spec);
            CHECK(spec_text(f.spec) == spec_text(c.folded));
            CHECK(f.spec.norm == c.folded.norm);
            CHECK(f.spec.kind == c.folded.kind);
            CHECK(batch_norms(*f.model).empty());
            CHECK(f.folds.size() == batch_norms(*model).size());
            // The original is untouched.
            const auto after = model->state();
            for (size_t i = 0; i < after.size(); ++i)
                CHECK(after[i].tensor.to_vector() == values[i]);

            const Tensor x = Tensor::randn({6, 1, c.spec.image_rows, c.spec.image_cols}, rng);
            check_same_eval_outputs(*model, *f.model, x);
            const Dataset data = random_images(40, c.spec.image_rows, c.spec.image_cols, 3);
            const OutputDifference d = compare_outputs(*model, *f.model, data, 16);
            CHECK(d.values == 40 * 10);
            CHECK(d.max_rel < 1e-5);

            // The saved folded model is rebuilt from its file alone, outputs and all.
            const std::string path =
                (std::filesystem::temp_directory_path() / ("normgrad-fold-" + c.name + ".st"))
                    .string();
            save_model(path, *f.model, f.spec);
            const LoadedModel loaded = load_model(path);
            std::filesystem::remove(path);
            CHECK(loaded.spec.norm == c.folded.norm);
            check_same_eval_outputs(*model, *loaded.model, x);
        }
    }
}

TEST_CASE("fold: the names of what was folded", "[fold]") {
    ModelSpec s = arch_spec(
        "conv3x3:8,norm,relu,res(conv3x3:8,norm,relu,conv3x3:8,norm),relu,gap,"
        "dense:10",
        Norm::batch());
    Rng rng(1);
    auto model = build_model(s, rng);
    const FoldedModel f = fold_batch_norm(*model, s);
    CHECK(f.folds == std::vector<std::string>{"bn1 into conv1", "res1.bn1 into res1.conv1",
                                              "res1.bn2 into res1.conv2"});
}

TEST_CASE("fold: a BatchNorm that does not directly follow a Dense or Conv2d is refused",
          "[fold]") {
    struct Case {
        std::string spec, message;
    };
    for (const Case& c : {
             Case{"dense:16,relu,norm,dense:10", "bn1 (BatchNorm1d) follows act1 (ReLU)"},
             Case{"norm,conv3x3:4,gap,dense:10", "bn1 (BatchNorm2d) follows the model's input"},
             Case{"conv3x3:4,res(norm,conv3x3:4),gap,dense:10",
                  "res1.bn1 (BatchNorm2d) follows the input of the block res1"},
             Case{"conv3x3:4,res(conv3x3:4),norm,gap,dense:10",
                  "bn1 (BatchNorm2d) follows res1 (Residual)"},
             Case{"conv3x3:4,maxpool2,norm,gap,dense:10", "follows pool1 (MaxPool2d)"},
         }) {
        INFO(c.spec);
        const ModelSpec s = arch_spec(c.spec, Norm::batch());
        Rng rng(1);
        auto model = build_model(s, rng);
        CHECK_THROWS_AS(fold_batch_norm(*model, s), FoldError);
        CHECK_THROWS_WITH(fold_batch_norm(*model, s),
                          Contains(c.message) && Contains("not a Dense or Conv2d"));
    }
    const ModelSpec none = arch_spec("dense:16,norm,relu,dense:10", {Norm::Kind::Layer, 0});
    Rng rng(1);
    auto model = build_model(none, rng);
    CHECK_THROWS_AS(fold_batch_norm(*model, none), FoldError);
    CHECK_THROWS_WITH(fold_batch_norm(*model, none), Contains("no BatchNorm to fold"));
}

TEST_CASE("recalibrate: Algorithm 2's population statistics, parameters untouched",
          "[recalibrate]") {
    // A BatchNorm2d after a convolution, a BatchNorm1d after a dense layer, Dropout (off during
    // the pass), 100 images in batches of 32: 3 batches, 4 images left out.
    const ModelSpec s = arch_spec(
        "conv3x3:4,norm,relu,maxpool2,dense:8,norm,relu,dropout:0.5,dense:10", Norm::batch());
    Rng rng(5);
    auto model = build_model(s, rng);
    randomise_batch_norms(*model, rng);
    const auto bns = batch_norms(*model);
    REQUIRE(bns.size() == 2);
    for (BatchNorm* bn : bns) {  // deliberately corrupted
        bn->running_mean.copy_from(Tensor::full({bn->num_features}, 5.f));
        bn->running_var.copy_from(Tensor::full({bn->num_features}, 100.f));
        bn->num_batches_tracked.data()[0] = 7.f;
    }
    CHECK(recalibrated_layers(*model) == std::vector<std::string>{"bn1", "bn2"});
    const auto params = parameter_values(*model);
    const Dataset data = random_images(100, 8, 8, 11);
    const int64_t batch = 32;
    model->train(true);
    const Recalibration r = recalibrate_batch_norm(*model, data, batch);
    CHECK(model->is_training());
    CHECK(r.batches == 3);
    CHECK(r.images == 96);
    CHECK(r.left_out == 4);
    REQUIRE(r.layers.size() == 2);
    CHECK(r.layers[0].layer == "bn1");
    CHECK(r.layers[0].values_per_batch == batch * 8 * 8);
    CHECK(r.layers[1].layer == "bn2");
    CHECK(r.layers[1].values_per_batch == batch);
    CHECK(r.layers[0].mean_shift_max > 1.0);  // from 5, in units of std well below 5
    // Parameters bit-identical, num_batches_tracked kept.
    const auto params_after = parameter_values(*model);
    REQUIRE(params_after.size() == params.size());
    for (size_t i = 0; i < params.size(); ++i)
        CHECK(std::memcmp(params[i].data(), params_after[i].data(),
                          params[i].size() * sizeof(float)) == 0);
    for (BatchNorm* bn : bns) CHECK(bn->num_batches_tracked.item() == 7.f);

    // Directly, in loops, for the first BatchNorm: its input is conv1's output, which no
    // BatchNorm touches. Per channel, over N * H * W values of each batch.
    const auto order = epoch_order(data.count, nullptr);
    const int64_t C = bns[0]->num_features;
    std::vector<double> sum_mean(size_t(C), 0.0), sum_var(size_t(C), 0.0);
    int64_t m = 0;
    {
        autograd::NoGradGuard no_grad;
        Module& conv1 = *model->children()[0].second;
        REQUIRE(conv1.kind() == "Conv2d");
        for (int64_t b = 0; b < 3; ++b) {
            const Tensor y = conv1(make_batch(data, order, b * batch, batch).images);
            const int64_t N = y.dim(0), HW = y.dim(2) * y.dim(3);
            m = N * HW;
            for (int64_t c = 0; c < C; ++c) {
                double s = 0, ss = 0;
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t i = 0; i < HW; ++i) s += y.data()[(n * C + c) * HW + i];
                const double mu = s / double(m);
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t i = 0; i < HW; ++i) {
                        const double d = y.data()[(n * C + c) * HW + i] - mu;
                        ss += d * d;
                    }
                sum_mean[size_t(c)] += mu;
                sum_var[size_t(c)] += ss / double(m);
            }
        }
    }
    for (int64_t c = 0; c < C; ++c) {
        const double mean = sum_mean[size_t(c)] / 3.0;
        const double var = double(m) / double(m - 1) * sum_var[size_t(c)] / 3.0;
        CHECK(bns[0]->running_mean.data()[c] == Approx(mean).epsilon(1e-5).margin(1e-6));
        CHECK(bns[0]->running_var.data()[c] == Approx(var).epsilon(1e-5));
    }

    // Every BatchNorm, second layer included, against PyTorch's cumulative average (momentum
    // none: the mean of the batch means, and of the m/(m-1)-unbiased batch variances), run on
    // a copy of the model from zeroed statistics over the same three batches, Dropout off.
    Rng other(99);
    auto copy = build_model(s, other);
    {
        const auto from = model->state();
        const auto to = copy->state();
        for (size_t i = 0; i < from.size(); ++i) to[i].tensor.copy_from(from[i].tensor);
    }
    const auto copy_bns = batch_norms(*copy);
    for (BatchNorm* bn : copy_bns) {
        bn->options.momentum = std::nullopt;
        bn->running_mean.copy_from(Tensor::zeros({bn->num_features}));
        bn->running_var.copy_from(Tensor::zeros({bn->num_features}));
        bn->num_batches_tracked.data()[0] = 0.f;
    }
    {
        autograd::NoGradGuard no_grad;
        copy->eval();
        for (BatchNorm* bn : copy_bns) bn->train(true);
        for (int64_t b = 0; b < 3; ++b) (*copy)(make_batch(data, order, b * batch, batch).images);
    }
    for (size_t k = 0; k < bns.size(); ++k)
        for (int64_t c = 0; c < bns[k]->num_features; ++c) {
            INFO("BatchNorm " << k + 1 << ", channel " << c);
            CHECK(bns[k]->running_mean.data()[c] ==
                  Approx(copy_bns[k]->running_mean.data()[c]).epsilon(1e-5).margin(1e-6));
            CHECK(bns[k]->running_var.data()[c] ==
                  Approx(copy_bns[k]->running_var.data()[c]).epsilon(1e-5));
        }

    // The pass is deterministic: a second recalibration moves nothing.
    const Recalibration again = recalibrate_batch_norm(*model, data, batch);
    for (const auto& l : again.layers) {
        CHECK(l.mean_shift_max < 1e-5);
        CHECK(l.var_change_max < 1e-5);
    }
}

TEST_CASE("recalibrate: refuses what it cannot do", "[recalibrate]") {
    const ModelSpec s = arch_spec("dense:8,norm,relu,dense:10", {Norm::Kind::Layer, 0});
    Rng rng(1);
    auto model = build_model(s, rng);
    const Dataset data = random_images(10, 8, 8, 1);
    CHECK_THROWS_AS(recalibrate_batch_norm(*model, data, 4), std::invalid_argument);
    CHECK_THROWS_WITH(recalibrate_batch_norm(*model, data, 4), Contains("no BatchNorm"));
    const ModelSpec b = arch_spec("dense:8,norm,relu,dense:10", Norm::batch());
    auto bn_model = build_model(b, rng);
    CHECK_THROWS_AS(recalibrate_batch_norm(*bn_model, data, 16), std::invalid_argument);
    CHECK_THROWS_WITH(recalibrate_batch_norm(*bn_model, data, 16),
                      Contains("10 images make no batch of 16"));
    CHECK_THROWS_AS(recalibrate_batch_norm(*bn_model, data, 1), std::invalid_argument);
}
