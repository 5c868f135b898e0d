// Inspecting BatchNorm layers (train/inspect.cpp) on small hand-set models and generated images,
// and `normgrad inspect` end to end on the tiny generated data set (never a claim about MNIST).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cli_helpers.hpp"
#include "normgrad/layers.hpp"
#include "normgrad/train/evaluate.hpp"
#include "normgrad/train/inspect.hpp"
#include "normgrad/train/models.hpp"

using namespace normgrad;
using namespace normgrad::train;
using Catch::Matchers::Contains;

namespace {

Dataset random_images(int64_t count, int64_t rows, int64_t cols, uint64_t seed) {
    Rng rng(seed);
    Dataset d;
    d.count = count;
    d.rows = rows;
    d.cols = cols;
    for (int64_t i = 0; i < count * rows * cols; ++i) d.images.push_back(uint8_t(rng.below(256)));
    for (int64_t i = 0; i < count; ++i) d.labels.push_back(uint8_t(rng.below(3)));
    return d;
}

void set(Tensor& t, const std::vector<float>& v) {
    t.copy_from(Tensor::from({int64_t(v.size())}, v));
}

// bn1 (BatchNorm2d over the raw 8x8 image), flatten, fc1 (64 -> 3) and, when `with_1d`, bn2
// (BatchNorm1d over the 3 logits); gamma, beta and running statistics set by hand.
std::shared_ptr<Sequential> small_model(bool with_1d) {
    Rng rng(3);
    auto model = std::make_shared<Sequential>();
    model->emplace<BatchNorm2d>("bn1", 1);
    model->emplace<Flatten>("flatten");
    model->emplace<Dense>("fc1", 64, 3, rng);
    if (with_1d) model->emplace<BatchNorm1d>("bn2", 3);
    auto* bn1 = dynamic_cast<BatchNorm*>(model->children()[0].second.get());
    set(bn1->gamma, {2.0f});
    set(bn1->beta, {0.5f});
    set(bn1->running_mean, {0.3f});
    set(bn1->running_var, {4.0f});
    bn1->num_batches_tracked.data()[0] = 7.f;
    if (with_1d) {
        auto* bn2 = dynamic_cast<BatchNorm*>(model->children()[3].second.get());
        set(bn2->gamma, {0.5f, 1.25f, 1.5f});
        set(bn2->beta, {-1.0f, -0.5f, 1.0f});
        set(bn2->running_mean, {0.1f, -0.2f, 0.0f});
        set(bn2->running_var, {1.0f, 2.0f, 0.5f});
    }
    return model;
}

}  // namespace

TEST_CASE("inspect: summaries of gamma, beta and the layer's input and output", "[inspect]") {
    auto model = small_model(true);
    const Dataset test = random_images(40, 8, 8, 11);
    std::vector<std::vector<float>> before;
    for (const auto& b : model->buffers()) before.push_back(b.tensor.to_vector());
    model->train(true);

    const Inspection r = inspect_batch_norm(*model, test, 16, InputScaling::Unit, {1, 8, 16});
    REQUIRE(r.layers.size() == 2);
    CHECK(r.batch_images == 16);
    CHECK(r.test_images == 40);

    const LayerInspection& l1 = r.layers[0];
    CHECK(l1.name == "bn1");
    CHECK(l1.kind == "BatchNorm2d");
    CHECK(l1.channels == 1);
    CHECK(l1.values_per_channel == 16 * 64);
    CHECK(l1.gamma.min == Approx(2.0));
    CHECK(l1.gamma.max == Approx(2.0));
    CHECK(l1.gamma.start == 1.0);
    CHECK(l1.gamma.histogram == std::vector<int64_t>{1, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    CHECK(l1.beta.mean == Approx(0.5));
    CHECK(l1.beta.start == 0.0);

    // The input of bn1 is the first 16 images, p / 255: its moments computed here directly.
    double sum = 0.0, sq = 0.0;
    const int64_t n = 16 * 64;
    for (int64_t i = 0; i < n; ++i) sum += test.images[size_t(i)] / 255.0;
    const double xm = sum / double(n);
    for (int64_t i = 0; i < n; ++i) sq += std::pow(test.images[size_t(i)] / 255.0 - xm, 2);
    const double xv = sq / double(n);
    const double eps = 1e-5;
    for (const ModeView* v : {&l1.train_mode, &l1.eval_mode}) {
        CHECK(v->input.abs_mean == Approx(xm).epsilon(1e-5));
        CHECK(v->input.std == Approx(std::sqrt(xv)).epsilon(1e-5));
    }
    // Training mode: the output's mean is beta and its std gamma (up to eps).
    CHECK(l1.train_mode.output.abs_mean == Approx(0.5).epsilon(1e-5));
    CHECK(l1.train_mode.output.std == Approx(2.0 * std::sqrt(xv / (xv + eps))).epsilon(1e-4));
    CHECK(l1.train_mode.mean_off_beta < 1e-5);
    CHECK(l1.train_mode.std_off_gamma < 1e-3);
    // Evaluation mode: gamma (x - 0.3) / sqrt(4 + eps) + beta.
    const double scale = 2.0 / std::sqrt(4.0 + eps);
    CHECK(l1.eval_mode.output.abs_mean == Approx(std::abs(scale * (xm - 0.3) + 0.5)).epsilon(1e-4));
    CHECK(l1.eval_mode.output.std == Approx(scale * std::sqrt(xv)).epsilon(1e-4));
    CHECK(l1.eval_mode.mean_off_beta == Approx(std::abs(scale * (xm - 0.3))).epsilon(1e-3));
    // Running statistics against the batch's (its variance unbiased).
    CHECK(l1.mean_gap == Approx(std::abs(0.3 - xm) / std::sqrt(xv + eps)).epsilon(1e-4));
    CHECK(l1.var_rel_diff ==
          Approx(std::abs(4.0 / (xv * double(n) / double(n - 1)) - 1.0)).epsilon(1e-4));

    const LayerInspection& l2 = r.layers[1];
    CHECK(l2.name == "bn2");
    CHECK(l2.kind == "BatchNorm1d");
    CHECK(l2.values_per_channel == 16);
    CHECK(l2.gamma.min == Approx(0.5));
    CHECK(l2.gamma.mean == Approx((0.5 + 1.25 + 1.5) / 3));
    CHECK(l2.gamma.max == Approx(1.5));
    CHECK(l2.gamma.histogram == std::vector<int64_t>{1, 0, 0, 0, 0, 0, 0, 1, 0, 1});
    CHECK(l2.beta.histogram == std::vector<int64_t>{1, 0, 1, 0, 0, 0, 0, 0, 0, 1});
    CHECK(l2.train_mode.output.abs_mean == Approx((1.0 + 0.5 + 1.0) / 3).epsilon(1e-4));
    CHECK(l2.train_mode.mean_off_beta < 1e-4);
    CHECK(l2.train_mode.std_off_gamma < 1e-2);

    // Accuracies: batch 1 is undefined with a BatchNorm1d, and says why; the others are numbers.
    REQUIRE(r.train_mode_accuracy.size() == 3);
    CHECK(!r.train_mode_accuracy[0].accuracy);
    CHECK_THAT(r.train_mode_accuracy[0].undefined_why, Contains("bn2 is a BatchNorm1d"));
    CHECK(r.train_mode_accuracy[1].accuracy);
    CHECK(r.train_mode_accuracy[2].accuracy);
    CHECK(r.eval_accuracy == evaluate(*model, test, 128, InputScaling::Unit).accuracy);

    // Every buffer bit for bit as before (the training-mode forwards moved them), and the mode.
    const auto after = model->buffers();
    REQUIRE(after.size() == before.size());
    for (size_t i = 0; i < after.size(); ++i) {
        INFO(after[i].name);
        const std::vector<float> a = after[i].tensor.to_vector();
        REQUIRE(a.size() == before[i].size());
        CHECK(std::memcmp(a.data(), before[i].data(), a.size() * sizeof(float)) == 0);
    }
    CHECK(model->is_training());
    for (const auto& [name, child] : model->children()) CHECK(child->is_training());
}

TEST_CASE("inspect: BatchNorm2d alone normalises one image over H, W", "[inspect]") {
    auto model = small_model(false);
    const Dataset test = random_images(10, 8, 8, 12);
    model->eval();
    const Inspection r = inspect_batch_norm(*model, test, 4, InputScaling::Unit, {1, 8});
    REQUIRE(r.train_mode_accuracy.size() == 2);
    CHECK(r.train_mode_accuracy[0].accuracy);  // m = 64 values per channel
    CHECK(r.train_mode_accuracy[0].undefined_why.empty());
    CHECK(!model->is_training());
    CHECK(model->children()[0].second->buffers()[0].tensor.to_vector() == std::vector<float>{0.3f});
}

TEST_CASE("inspect: a model without BatchNorm is refused", "[inspect]") {
    Rng rng(1);
    Sequential model;
    model.emplace<Flatten>("flatten");
    model.emplace<Dense>("fc1", 64, 3, rng);
    CHECK(batch_norm_layers(model).empty());
    CHECK_THROWS_WITH(inspect_batch_norm(model, random_images(4, 8, 8, 1), 4),
                      Contains("no BatchNorm"));
    CHECK(batch_norm_layers(*small_model(true)) == std::vector<std::string>{"bn1", "bn2"});
}

TEST_CASE("inspect: BatchNorms inside residual blocks are found and named", "[inspect]") {
    ModelSpec s;
    s.kind = "arch";
    s.arch = "conv3x3:4,norm,relu,res(conv3x3:4,norm,relu,conv3x3:4,norm),relu,gap,dense:10";
    s.norm = Norm::batch();
    s.image_rows = s.image_cols = 8;
    Rng rng(5);
    auto model = build_model(s, rng);
    const std::vector<std::string> names = batch_norm_layers(*model);
    CHECK(names == std::vector<std::string>{"bn1", "res1.bn1", "res1.bn2"});
    const Inspection r =
        inspect_batch_norm(*model, random_images(12, 8, 8, 4), 6, InputScaling::Unit, {1, 4});
    REQUIRE(r.layers.size() == 3);
    CHECK(r.layers[2].name == "res1.bn2");
    CHECK(r.layers[2].values_per_channel == 6 * 64);
    CHECK(r.train_mode_accuracy[0].accuracy);  // BatchNorm2d only: one image is fine
}

TEST_CASE("cli: inspect prints every BatchNorm on the test images, refuses a model without",
          "[cli][inspect]") {
    using namespace normgrad::testing;
    TinyData d;
    REQUIRE(run("train --model cnn --batchnorm on --batch 32 --no-progress --save " +
                d.file("m.safetensors") + d.data())
                .status == 0);
    const std::string before = read_file(d.file("m.safetensors"));
    // 60 steps of the lag measurement rather than the default 300 (checked on the mlp below):
    // 300 forwards of the cnn were a minute of the sanitizer build's suite.
    Run r =
        run("inspect --load " + d.file("m.safetensors") + " --batch 32 --lag-steps 60" + d.data());
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Contains("3 BatchNorm layers, on the first 32 test images"));
    CHECK_THAT(r.output, Contains("bn1 BatchNorm2d: 32 channels, m = 25088 values per channel"));
    CHECK_THAT(r.output, Contains("bn3 BatchNorm1d: 128 channels, m = 32 values per channel"));
    CHECK_THAT(r.output, Contains("(started at 1)"));
    CHECK_THAT(r.output, Contains("(started at 0)"));
    CHECK_THAT(r.output, Contains("evaluation mode (running statistics):"));
    CHECK_THAT(r.output, Contains("running statistics against this batch's"));
    CHECK_THAT(r.output, Contains("Test accuracy on 64 images:"));
    CHECK_THAT(r.output, Contains("test batches of    1: undefined: bn3 is a BatchNorm1d"));
    CHECK_THAT(r.output, Contains("test batches of    8: "));
    CHECK_THAT(r.output, Contains("test batches of   32: "));
    // The momentum's lag, on the training images.
    CHECK_THAT(r.output, Contains("How the momentum makes the running statistics lag"));
    CHECK_THAT(r.output, Contains("updated by 60 training-mode forwards of 32 shuffled"));
    CHECK_THAT(r.output, Contains("within 1% from step"));
    CHECK(r.output.find("\nbn3                  0.1        32 ") != std::string::npos);
    CHECK(read_file(d.file("m.safetensors")) == before);

    // The evaluation-mode accuracy is eval's.
    Run e = run("eval --load " + d.file("m.safetensors") + d.data());
    REQUIRE(e.status == 0);
    const auto at = e.output.find("test accuracy ");
    REQUIRE(at != std::string::npos);
    const std::string acc = e.output.substr(at + 14, e.output.find('%', at) - at - 14);
    CHECK_THAT(r.output, Contains("evaluation mode (running statistics): " + acc + "%"));

    // Without --lag-steps, 300 steps of it (here on the mlp with BatchNorm, a cheap model).
    REQUIRE(run("train --model mlp --batchnorm on --batch 32 --max-steps 1 --no-progress --save " +
                d.file("mlp-bn.safetensors") + d.data())
                .status == 0);
    Run lag = run("inspect --load " + d.file("mlp-bn.safetensors") + " --batch 32" + d.data());
    REQUIRE(lag.status == 0);
    CHECK_THAT(lag.output, Contains("updated by 300 training-mode forwards of 32 shuffled"));

    Run big = run("inspect --load " + d.file("m.safetensors") + " --batch 100" + d.data());
    CHECK(big.status == 2);
    CHECK_THAT(big.output, Contains("has only 64 images"));
    REQUIRE(run("train --model mlp --batch 32 --max-steps 1 --no-progress --save " +
                d.file("plain.safetensors") + d.data())
                .status == 0);
    Run plain = run("inspect --load " + d.file("plain.safetensors") + d.data());
    CHECK(plain.status == 2);
    CHECK_THAT(plain.output, Contains("has no BatchNorm layer to inspect"));
}

TEST_CASE(
    "cli: train --inspect-at shows the BatchNorms at those steps and leaves the run as it was",
    "[cli][inspect]") {
    using namespace normgrad::testing;
    TinyData d;
    const std::string common =
        "train --model mlp --batchnorm on --batch 32 --max-steps 4 "
        "--no-progress" +
        d.data();
    REQUIRE(run(common + " --save " + d.file("plain.safetensors")).status == 0);
    Run r = run(common + " --inspect-at 1,4 --save " + d.file("inspected.safetensors") + " --log " +
                d.file("log.jsonl"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Contains("inspect at step 1 (first 64 test images"));
    CHECK_THAT(r.output, Contains("inspect at step 4 (first 64 test images"));
    CHECK_THAT(r.output, Contains("  bn1        gamma "));
    CHECK_THAT(r.output, Contains("running statistics off by "));
    // Inspecting runs forwards and puts every buffer back: the same trained model, bit for bit.
    CHECK(read_file(d.file("inspected.safetensors")) == read_file(d.file("plain.safetensors")));
    const std::string log = read_file(d.file("log.jsonl"));
    CHECK_THAT(log,
               Contains(R"({"type":"inspect","step":1,"test_images":64,"layers":[{"name":"bn1")"));
    CHECK_THAT(log, Contains(R"({"type":"inspect","step":4,)"));
    CHECK(log.find(R"("type":"inspect","step":2)") == std::string::npos);

    // At the last step the figures are those inspect prints for the saved model.
    Run later = run("inspect --load " + d.file("plain.safetensors") + " --batch 64 --lag-steps 0" +
                    d.data());
    REQUIRE(later.status == 0);
    // train: "  bn1        gamma 1.0007 [..."; inspect: "  gamma min ... mean   1.0007  max".
    const size_t t = r.output.find("  bn1        gamma ", r.output.find("inspect at step 4"));
    const size_t i = later.output.find("  gamma ", later.output.find("bn1 BatchNorm1d"));
    REQUIRE(t != std::string::npos);
    REQUIRE(i != std::string::npos);
    const double at_step_4 = std::stod(r.output.substr(t + 19, 10));
    const double saved = std::stod(later.output.substr(later.output.find("mean", i) + 4, 12));
    CHECK(at_step_4 == Approx(saved).margin(1e-4));

    Run no_bn =
        run("train --model mlp --batch 32 --max-steps 2 --no-progress --inspect-at 1" + d.data());
    CHECK(no_bn.status == 2);
    CHECK_THAT(no_bn.output, Contains("--inspect-at: the model (mlp with no normalisation) has no "
                                      "BatchNorm layer to inspect"));
}
