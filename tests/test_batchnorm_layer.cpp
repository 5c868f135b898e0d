// The BatchNorm layers against PyTorch's nn.BatchNorm1d / nn.BatchNorm2d contract: running
// statistics after several training steps (momentum 0.1 and the cumulative average), evaluation
// outputs, and the behaviours of torch/nn/modules/batchnorm.py.
#include <catch2/catch.hpp>

#include "fixture.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/layers/batch_norm.hpp"

using namespace normgrad;
using Catch::Matchers::Contains;
using normgrad::testing::compare_close;
using normgrad::testing::Fixture;

namespace {

Tensor to_tensor(const normgrad::testing::FixtureTensor& t) {
    return Tensor::from(Shape(t.dims), t.values);
}

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected) {
    auto r = compare_close(actual, expected, 1e-5);
    INFO(r.report);
    CHECK(r.ok);
}

std::shared_ptr<BatchNorm> make(const std::string& run, int64_t C, std::optional<float> momentum) {
    BatchNormOptions opt;
    opt.momentum = momentum;
    if (run == "bn1d_run") return std::make_shared<BatchNorm1d>(C, opt);
    return std::make_shared<BatchNorm2d>(C, opt);
}

}  // namespace

TEST_CASE("BatchNorm layers match PyTorch's running statistics and eval output",
          "[batchnorm][reference][layers]") {
    const Fixture fx("batchnorm.txt");
    for (const std::string run : {"bn1d_run", "bn2d_run"}) {
        for (bool cumulative : {false, true}) {
            DYNAMIC_SECTION(run << (cumulative ? " momentum=None" : " momentum=0.1")) {
                const std::string out = cumulative ? run + "_cma" : run;
                const int64_t C = fx.get(run + ".gamma").values.size();
                auto bn = make(run, C, cumulative ? std::nullopt : std::optional<float>(0.1f));
                bn->gamma.copy_from(to_tensor(fx.get(run + ".gamma")));
                bn->beta.copy_from(to_tensor(fx.get(run + ".beta")));
                bn->train();
                for (int i = 0; i < 3; ++i) {
                    Tensor y = (*bn)(to_tensor(fx.get(run + ".x" + std::to_string(i))));
                    if (!cumulative)
                        expect_close(y.to_vector(), fx.get(run + ".y" + std::to_string(i)).values);
                }
                autograd::release_tape();
                expect_close(bn->running_mean.to_vector(), fx.get(out + ".running_mean").values);
                expect_close(bn->running_var.to_vector(), fx.get(out + ".running_var").values);
                CHECK(bn->num_batches_tracked.item() ==
                      fx.get(out + ".num_batches_tracked").values[0]);

                bn->eval();
                const auto before_mean = bn->running_mean.to_vector();
                Tensor y = (*bn)(to_tensor(fx.get(run + ".eval_x")));
                expect_close(y.to_vector(), fx.get(out + ".eval_y").values);
                // Evaluation updates nothing.
                CHECK(bn->running_mean.to_vector() == before_mean);
                CHECK(bn->num_batches_tracked.item() == 3.f);
                autograd::release_tape();
            }
        }
    }
}

TEST_CASE("BatchNorm parameters, buffers and names follow PyTorch", "[batchnorm][layers]") {
    BatchNorm2d bn(4);
    auto params = bn.parameters();
    REQUIRE(params.size() == 2);
    CHECK(params[0].name == "weight");
    CHECK(params[1].name == "bias");
    CHECK(bn.gamma.to_vector() == std::vector<float>(4, 1.f));
    CHECK(bn.beta.to_vector() == std::vector<float>(4, 0.f));
    auto buffers = bn.buffers();
    REQUIRE(buffers.size() == 3);
    CHECK(buffers[0].name == "running_mean");
    CHECK(buffers[1].name == "running_var");
    CHECK(buffers[2].name == "num_batches_tracked");
    CHECK(bn.running_var.to_vector() == std::vector<float>(4, 1.f));
    CHECK(bn.options.eps == 1e-5f);
    CHECK(*bn.options.momentum == 0.1f);

    BatchNormOptions no_affine;
    no_affine.affine = false;
    CHECK(BatchNorm1d(3, no_affine).parameters().empty());
}

TEST_CASE("BatchNorm: a training batch with one value per channel is a clear error",
          "[batchnorm][layers]") {
    BatchNorm1d bn1(3);
    CHECK_THROWS_WITH(bn1(Tensor::ones({1, 3})), Contains("more than 1 value per channel"));
    BatchNorm2d bn2(2);
    CHECK_THROWS_WITH(bn2(Tensor::ones({1, 2, 1, 1})), Contains("more than 1 value per channel"));
    // In evaluation mode a single sample is fine: the running statistics are used.
    bn1.eval();
    CHECK(bn1(Tensor::ones({1, 3})).shape() == Shape{1, 3});
    // Wrong rank or channel count names the layer and the shapes.
    CHECK_THROWS_WITH(bn2(Tensor::ones({4, 2})), Contains("BatchNorm2d") && Contains("[4, 2]"));
    CHECK_THROWS_WITH(bn1(Tensor::ones({4, 5})), Contains("BatchNorm1d") && Contains("3 channels"));
}

TEST_CASE("BatchNorm without running statistics uses batch statistics in eval mode too",
          "[batchnorm][layers]") {
    BatchNormOptions opt;
    opt.track_running_stats = false;
    BatchNorm1d bn(2, opt);
    CHECK(bn.buffers().empty());
    Rng rng(3);
    Tensor x = Tensor::randn({6, 2}, rng, 3.f, 2.f);
    bn.eval();
    Tensor y = bn(x);
    autograd::release_tape();
    // Each feature of the output has mean 0 and (biased) variance ~1.
    for (int c = 0; c < 2; ++c) {
        double s = 0, ss = 0;
        for (int n = 0; n < 6; ++n)
            s += y.data()[n * 2 + c], ss += y.data()[n * 2 + c] * y.data()[n * 2 + c];
        CHECK(s / 6 == Approx(0).margin(1e-5));
        CHECK(ss / 6 == Approx(1).epsilon(1e-3));
    }
}

TEST_CASE("BatchNorm momentum 0 freezes and momentum 1 replaces the running statistics",
          "[batchnorm][layers]") {
    Rng rng(4);
    Tensor x = Tensor::randn({8, 2}, rng, 5.f, 3.f);
    BatchNormOptions opt;
    opt.momentum = 0.f;
    BatchNorm1d frozen(2, opt);
    frozen(x);
    CHECK(frozen.running_mean.to_vector() == std::vector<float>(2, 0.f));
    opt.momentum = 1.f;
    BatchNorm1d replaced(2, opt);
    replaced(x);
    autograd::release_tape();
    const BatchStats& s = replaced.last_batch_stats();
    CHECK(replaced.running_mean.to_vector() == s.mean);
    CHECK(replaced.running_var.data()[0] == Approx(s.var[0] * 8.f / 7.f));  // unbiased
}
