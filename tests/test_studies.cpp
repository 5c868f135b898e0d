// The BatchNorm lab's studies (`normgrad study NAME`): the quantities they report, checked on
// hand-made inputs, and every study end to end on the tiny generated data set (never a claim
// about MNIST: the studies' real figures are in docs/results/study-*/, from scripts/studies.sh).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "cli_helpers.hpp"
#include "normgrad/layers.hpp"
#include "normgrad/train/ioffe_figure1.hpp"
#include "normgrad/train/study_depth.hpp"

using namespace normgrad;
using namespace normgrad::train;
using namespace normgrad::testing;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

Dataset tiny_data(int64_t count, int64_t side, uint64_t seed) {
    Dataset d;
    d.count = count, d.rows = side, d.cols = side;
    Rng rng(seed);
    for (int64_t i = 0; i < count * side * side; ++i) d.images.push_back(uint8_t(rng.below(256)));
    for (int64_t i = 0; i < count; ++i) d.labels.push_back(uint8_t(rng.below(10)));
    return d;
}

size_t lines_of(const std::string& text) {
    size_t n = 0;
    for (char c : text) n += c == '\n';
    return n;
}

}  // namespace

TEST_CASE("study depth: growth per layer is the geometric mean over the hidden layers", "[study]") {
    // Input layer 100 (a different shape, left out), hidden 8, 4, 2, 1 (each half the one
    // before, towards the output: growth 2 towards the input), output layer 50 (left out).
    CHECK(growth_per_layer({100, 8, 4, 2, 1, 50}) == Approx(2.0));
    // Uneven steps: 9 -> 3 -> 1 over two pairs is 3 per layer whatever the middle value.
    CHECK(growth_per_layer({1, 9, 2, 1, 7}) == Approx(3.0));
    // Shrinking towards the input: below 1.
    CHECK(growth_per_layer({1, 1, 2, 4, 1}) == Approx(0.5));
    CHECK(std::isnan(growth_per_layer({1, 2, 3})));     // two hidden layers: no pair of one shape
    CHECK(std::isnan(growth_per_layer({1, 0, 2, 3})));  // a zero gradient
    CHECK(mean_field_relu_growth() == Approx(std::sqrt(M_PI / (M_PI - 1))));
    CHECK(mean_field_relu_growth() == Approx(1.2112).epsilon(1e-4));
}

TEST_CASE("study depth: the four variants' specs", "[study]") {
    const auto v = depth_variants();
    REQUIRE(v.size() == 4);
    CHECK(v[0].name() == "plain");
    CHECK(v[1].name() == "plain+BN");
    CHECK(v[2].name() == "residual+BN");
    CHECK(v[3].name() == "residual");
    CHECK(depth_study_spec(DepthFamily::MLP, 3, v[0], 16) ==
          "dense:16,norm,act,dense:16,norm,act,dense:16,norm,act,dense:10");
    CHECK(depth_study_spec(DepthFamily::MLP, 3, v[2], 16) ==
          "dense:16,norm,act,res(norm,act,dense:16),res(norm,act,dense:16),norm,act,dense:10");
    CHECK(depth_study_spec(DepthFamily::CNN, 3, v[3], 8) ==
          "conv3x3:8:s2,norm,act,res(norm,act,conv3x3:8),res(norm,act,conv3x3:8),norm,act,gap,"
          "dense:10");
}

TEST_CASE("study depth: every network measured at initialisation and trained", "[study]") {
    const Dataset train_set = tiny_data(64, 8, 1), test_set = tiny_data(32, 8, 2);
    DepthStudyConfig c;
    c.base.batch = 16;
    c.base.max_steps = 3;
    c.base.epochs = 10;
    c.base.progress = false;
    c.base.model.image_rows = c.base.model.image_cols = 8;
    c.families = {DepthFamily::MLP, DepthFamily::CNN};
    c.mlp_depths = {4};
    c.cnn_depths = {3};
    c.mlp_width = 12;
    c.cnn_channels = 4;
    c.grad_batches = 2;
    int seen = 0;
    const auto points = run_depth_study(c, train_set, test_set, [&](const auto&) { ++seen; });
    REQUIRE(points.size() == 8);
    CHECK(seen == 8);
    for (const auto& p : points) {
        INFO(to_string(p.family) << " " << p.variant.name());
        // Every Dense and Conv2d: depth hidden layers and the output layer.
        CHECK(p.grad_norms.size() == size_t(p.depth + 1));
        CHECK(p.steps == 3);
        CHECK(p.diverged_step == 0);
        CHECK(std::isfinite(p.growth));
        CHECK(p.first_over_last == Approx(p.grad_norms.front() / p.grad_norms.back()));
        CHECK(p.growth == Approx(growth_per_layer(p.grad_norms)));
        CHECK(p.test_accuracy >= 0.0);
        CHECK(p.test_accuracy <= 1.0);
    }
    // The same first layer starts from the same weights in the plain and residual networks
    // without normalisation, on the same batches, but the gradient reaching it differs: the
    // skips change the backward pass (a sweep that ignored the variant would give equal norms).
    CHECK(points[0].grad_norms.front() != Approx(points[3].grad_norms.front()));
}

TEST_CASE("study ioffe-figure1: quantiles interpolate as numpy.percentile does", "[study]") {
    // numpy.percentile(range(1, 11), [15, 50, 85]) = [2.35, 5.5, 8.65]
    const auto q = quantiles({10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, {0.15, 0.5, 0.85});
    REQUIRE(q.size() == 3);
    CHECK(q[0] == Approx(2.35));
    CHECK(q[1] == Approx(5.5));
    CHECK(q[2] == Approx(8.65));
    CHECK(quantiles({4}, {0.0, 0.85}) == std::vector<double>{4, 4});
    CHECK(quantiles({0, 1}, {0.0, 1.0}) == std::vector<double>{0, 1});
    CHECK(std::isnan(quantiles({}, {0.5}).front()));
}

TEST_CASE("study ioffe-figure1: the probe reads the layer's input, the model untouched",
          "[study]") {
    // dense 4 -> 3, then a sigmoid: the sigmoid's input is the dense layer's output.
    const Dataset d = tiny_data(7, 2, 3);
    Rng rng(4);
    auto m = std::make_shared<Sequential>();
    m->add("flatten", std::make_shared<Flatten>());
    m->add("fc1", std::make_shared<Dense>(4, 3, rng));
    m->add("act1", std::make_shared<Sigmoid>());
    m->add("fc2", std::make_shared<Dense>(3, 10, rng));
    m->train();
    const UnitProbe p = probe_unit_input(*m, "act1", 2, d, InputScaling::Standardize);
    REQUIRE(p.values.size() == 7);
    CHECK(m->is_training());  // evaluation mode only for the pass
    const auto order = epoch_order(d.count, nullptr);
    Batch b = make_batch(d, order, 0, d.count, InputScaling::Standardize);
    auto& fc1 = dynamic_cast<Dense&>(*m->children()[1].second);
    for (int64_t i = 0; i < 7; ++i) {
        double z = fc1.bias.data()[2];
        for (int64_t k = 0; k < 4; ++k)
            z += double(b.images.data()[i * 4 + k]) * fc1.weight.data()[2 * 4 + k];
        CHECK(p.values[size_t(i)] == Approx(z).margin(1e-5));
    }
    CHECK_THROWS_WITH(probe_unit_input(*m, "act9", 0, d, InputScaling::Standardize),
                      Contains("no layer act9"));
    CHECK_THROWS_WITH(probe_unit_input(*m, "act1", 3, d, InputScaling::Standardize),
                      Contains("no unit 3"));
}

TEST_CASE("normgrad study: each study end to end on the tiny data set", "[study][cli]") {
    TinyData t;
    SECTION("depth") {
        const auto r = run("study depth" + t.data() +
                           " --families mlp,cnn --mlp-depths 3,4 --cnn-depths 3 --width 8 "
                           "--channels 4 --steps 2 --batch 32 --no-progress --out d");
        INFO(r.output);
        REQUIRE(r.status == 0);
        CHECK_THAT(r.output, Contains("growth of ||dL/dW|| per layer towards the input (mlp)"));
        CHECK_THAT(r.output, Contains("residual+BN"));
        CHECK_THAT(r.output, Contains("mean-field value for ReLU with BatchNorm is 1.211"));
        const std::string csv = read_file("d/results.csv");
        CHECK(lines_of(csv) == 1 + 12);  // header, (2 mlp + 1 cnn depths) x 4 variants
        CHECK_THAT(read_file("d/table.txt"), Contains("test accuracy after 2 steps (cnn)"));
        CHECK_THAT(read_file("d/report.html"), Contains("mlp-profile"));
        CHECK(fs::exists("d/chart-mlp-first-over-last.svg"));
        CHECK(fs::exists("d/chart-cnn-accuracy.svg"));
    }
    SECTION("batch-size") {
        const auto r = run("study batch-size --datasets " + t.dir.string() +
                           " --batches 4,16 --norms batch,layer --no-progress --out b");
        INFO(r.output);
        REQUIRE(r.status == 0);
        CHECK(lines_of(read_file("b/results.csv")) == 1 + 4);
        CHECK_THAT(r.output, Contains("lr = 0.1 * B / 128"));
        // The learning rate scaled with the batch: 0.1 * 4 / 128 at batch 4.
        CHECK_THAT(read_file("b/results.csv"), Contains(",4,batch,0.003125,"));
        CHECK_THAT(read_file("b/results.csv"), Contains(",16,layer,0.0125,"));
    }
    SECTION("lr") {
        const auto r = run("study lr" + t.data() +
                           " --lr-min 0.01 --lr-max 0.04 --norms none,batch --threshold 0 "
                           "--no-progress --out l");
        INFO(r.output);
        REQUIRE(r.status == 0);
        const std::string csv = read_file("l/results.csv");
        CHECK(lines_of(csv) == 1 + 6);  // 0.01, 0.02, 0.04 for each
        // Threshold 0: every finite run trains, so the largest is the grid's top.
        CHECK_THAT(r.output, Contains("no normalisation 0.04 ("));
        CHECK_THAT(r.output, Contains("BatchNorm 0.04 ("));
    }
    SECTION("ioffe-figure1") {
        const auto r =
            run("study ioffe-figure1" + t.data() + " --steps 20 --every 10 --no-progress --out i");
        INFO(r.output);
        REQUIRE(r.status == 0);
        const std::string csv = read_file("i/results.csv");
        CHECK(lines_of(csv) == 1 + 2 * 3);  // steps 0, 10, 20 for each run
        CHECK_THAT(csv, Contains("none,0,"));
        CHECK_THAT(csv, Contains("batch,20,"));
        CHECK(fs::exists("i/chart-percentiles-bn.svg"));
    }
}

TEST_CASE("normgrad study: bad set-ups are refused before any work", "[study][cli]") {
    TinyData t;
    auto refused = [&](const std::string& args, const std::string& why) {
        const auto r = run("study " + args + " --out o");
        INFO(args << "\n" << r.output);
        CHECK(r.status == 2);
        CHECK_THAT(r.output, Contains(why));
        CHECK_FALSE(fs::exists("o/results.csv"));
    };
    refused("batch-size --datasets " + t.dir.string() + " --batches 16,4",
            "--batches 16,4: expected batch sizes in increasing order");
    refused("lr" + t.data() + " --lr-min 1 --lr-max 0.5", "--lr-max 0.5 is below --lr-min 1");
    refused("depth" + t.data() + " --families rnn", "--families rnn: expected mlp, cnn");
    refused("ioffe-figure1" + t.data() + " --steps 10 --every 20", "--every 20 is beyond --steps");
    refused("lr --data " + t.file("nowhere"), "nowhere");
    refused("batch-size --datasets " + t.dir.string() + " --norms batch,weird", "--norms");
    const auto r = run("study");
    CHECK(r.status != 0);
    CHECK_THAT(r.output, Contains("normgrad study: A subcommand is required"));
    CHECK_THAT(run("study --help").output, Contains("ioffe-figure1"));
}
