// BatchNorm composed of the general operations (tests/composed_batch_norm.hpp, the worked example
// of docs/batchnorm.md) against the fast batch_norm operation (src/ops/batch_norm.cpp): three
// training steps, then evaluation, on 2-D and 4-D input; outputs, dx, dgamma, dbeta and the
// running statistics after every step, to 1e-5.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "composed_batch_norm.hpp"
#include "fixture.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/batch_norm.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/reduce.hpp"

namespace {

using namespace normgrad;

constexpr double kRtol = 1e-5;  // as the PyTorch BatchNorm fixtures

void check_close(const std::vector<float>& composed, const std::vector<float>& fast,
                 const std::string& what) {
    const auto r = testing::compare_close(composed, fast, kRtol);
    INFO(what << ": " << r.report);
    CHECK(r.ok);
}

// One implementation's parameters and running statistics.
struct State {
    Tensor gamma, beta, running_mean, running_var, num_batches_tracked;
};

State make_state(const Tensor& gamma, const Tensor& beta) {
    const Shape c = gamma.shape();
    return {gamma.clone().set_requires_grad(true), beta.clone().set_requires_grad(true),
            Tensor::zeros(c), Tensor::ones(c), Tensor::zeros({})};
}

}  // namespace

TEST_CASE("BatchNorm composed of general operations equals the batch_norm operation",
          "[norms][batchnorm]") {
    for (const Shape& shape : {Shape{6, 3}, Shape{4, 3, 3, 2}}) {
        DYNAMIC_SECTION("input " << shape.str()) {
            Rng rng(11);
            const int64_t C = shape[1];
            const Tensor gamma = Tensor::randn({C}, rng, 1.f, 0.5f);
            const Tensor beta = Tensor::randn({C}, rng, 0.f, 0.5f);
            State fast = make_state(gamma, beta), composed = make_state(gamma, beta);

            for (int step = 0; step < 4; ++step) {
                const bool training = step < 3;  // three training steps, then evaluation
                INFO("step " << step << (training ? " (training)" : " (evaluation)"));
                const Tensor x = Tensor::randn(shape, rng, 1.5f, 2.f);
                const Tensor dy = Tensor::randn(shape, rng);
                Tensor x_fast = x.clone().set_requires_grad(true);
                Tensor x_composed = x.clone().set_requires_grad(true);

                // One after the other: backward releases the whole tape.
                const Tensor y_fast =
                    batch_norm(x_fast, fast.gamma, fast.beta, fast.running_mean, fast.running_var,
                               fast.num_batches_tracked, training, 0.1f, 1e-5f);
                autograd::backward(sum(mul(y_fast, dy)));
                const Tensor y_composed = composed::batch_norm(
                    x_composed, composed.gamma, composed.beta, composed.running_mean,
                    composed.running_var, training, 0.1f, 1e-5f);
                autograd::backward(sum(mul(y_composed, dy)));

                REQUIRE(y_composed.shape() == y_fast.shape());
                check_close(y_composed.to_vector(), y_fast.to_vector(), "y");
                check_close(composed.running_mean.to_vector(), fast.running_mean.to_vector(),
                            "running_mean");
                check_close(composed.running_var.to_vector(), fast.running_var.to_vector(),
                            "running_var");
                check_close(x_composed.grad_vector(), x_fast.grad_vector(), "dx");
                check_close(composed.gamma.grad_vector(), fast.gamma.grad_vector(), "dgamma");
                check_close(composed.beta.grad_vector(), fast.beta.grad_vector(), "dbeta");
                for (State* s : {&fast, &composed}) {
                    s->gamma.zero_grad();
                    s->beta.zero_grad();
                }
            }
            // The statistics moved from where they start (0 and 1): the comparisons saw updates.
            CHECK(fast.num_batches_tracked.item() == 3.f);
            for (float m : composed.running_mean.to_vector()) CHECK(m != 0.f);
            for (float v : composed.running_var.to_vector()) CHECK(v != 1.f);
        }
    }
}

TEST_CASE("BatchNorm composed of general operations: ten tape records in training, as the doc says",
          "[norms][batchnorm]") {
    Rng rng(2);
    Tensor x = Tensor::randn({4, 3, 2, 2}, rng).set_requires_grad(true);
    State s = make_state(Tensor::ones({3}), Tensor::zeros({3}));
    autograd::release_tape();
    composed::batch_norm(x, s.gamma, s.beta, s.running_mean, s.running_var, /*training=*/true);
    // mean, var, sub, add_scalar, rsqrt, mul, reshape, mul, reshape, add (the running statistics
    // are updated off the tape)
    CHECK(autograd::tape_size() == 10);
    autograd::release_tape();
}
