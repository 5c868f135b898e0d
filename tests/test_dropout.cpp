// Dropout: the identity in evaluation; in training a mask with the right drop rate and scale,
// drawn anew at every forward from training_rng() and reproduced by its seed; and the generic
// gradient check, which passes only because it fixes the random stream (kRandomInTraining).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/layer_registry.hpp"
#include "normgrad/layers/dropout.hpp"
#include "normgrad/ops/reduce.hpp"
#include "normgrad/random.hpp"

using namespace normgrad;

namespace {

// Values in [1, 2): none is 0, so a 0 in the output is a dropped element.
Tensor nonzero_input(int64_t n, uint64_t seed) {
    Rng rng(seed);
    return Tensor::uniform({n / 100, 100}, rng, 1.f, 2.f);
}

// Which elements were dropped.
std::vector<bool> dropped(const Tensor& y) {
    std::vector<bool> d(static_cast<size_t>(y.numel()));
    for (size_t i = 0; i < d.size(); ++i) d[i] = y.data()[i] == 0.f;
    return d;
}

}  // namespace

TEST_CASE("Dropout: a p outside 0 <= p < 1 is refused, naming p and the range",
          "[layers][dropout]") {
    for (float p : {-0.1f, 1.f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
        INFO("p = " << p);
        CHECK_THROWS_AS(Dropout(p), std::invalid_argument);
        CHECK_THROWS_WITH(Dropout(p), Catch::Contains("p = ") && Catch::Contains("[0, 1)"));
    }
    CHECK_NOTHROW(Dropout(0.f));
    CHECK_NOTHROW(Dropout(0.99f));
    CHECK(Dropout(0.25f).describe() == "Dropout(p = 0.25)");
}

TEST_CASE("Dropout: evaluation is the identity, every time", "[layers][dropout]") {
    Dropout drop(0.5f);
    drop.eval();
    const Tensor x = nonzero_input(1000, 1);
    const std::string stream_before = training_rng().state();
    for (int pass = 0; pass < 2; ++pass) CHECK(drop(x).to_vector() == x.to_vector());
    CHECK(training_rng().state() == stream_before);  // nothing drawn
}

TEST_CASE("Dropout: training drops a fraction p and scales the rest by 1 / (1 - p)",
          "[layers][dropout]") {
    const int64_t n = 100000;
    const Tensor x = nonzero_input(n, 2);
    for (float p : {0.1f, 0.5f, 0.8f}) {
        INFO("p = " << p);
        Dropout drop(p);  // a new module is in training mode
        REQUIRE(drop.is_training());
        seed_training_rng(3);
        const Tensor y = drop(x);
        int64_t zeros = 0;
        for (int64_t i = 0; i < n; ++i) {
            const float out = y.data()[i];
            if (out == 0.f) {
                ++zeros;
            } else if (out != Approx(x.data()[i] / (1.f - p)).epsilon(1e-6)) {
                FAIL("element " << i << ": kept as " << out
                                << ", expected x / (1 - p) = " << x.data()[i] / (1.f - p));
            }
        }
        // The number dropped is Binomial(n, p): within 5 standard deviations of n p (a false
        // alarm about once in two million runs).
        const double sd = std::sqrt(n * p * (1.0 - p));
        CHECK(std::abs(static_cast<double>(zeros) - n * p) < 5 * sd);
    }
}

TEST_CASE("Dropout: a new mask at every forward, the same one from the same seed",
          "[layers][dropout]") {
    Dropout drop(0.5f);
    const Tensor x = nonzero_input(10000, 4);
    seed_training_rng(5);
    const std::vector<bool> first = dropped(drop(x)), second = dropped(drop(x));
    CHECK(first != second);
    seed_training_rng(5);
    CHECK(dropped(drop(x)) == first);
    seed_training_rng(6);
    CHECK(dropped(drop(x)) != first);
}

TEST_CASE("Dropout: p = 0 is the identity in training", "[layers][dropout]") {
    Dropout drop(0.f);
    const Tensor x = nonzero_input(1000, 7);
    CHECK(drop(x).to_vector() == x.to_vector());
}

TEST_CASE("Dropout: the gradient is the mask", "[layers][dropout]") {
    const float p = 0.4f;
    Dropout drop(p);
    Tensor x = nonzero_input(1000, 8).set_requires_grad(true);
    const Tensor y = drop(x);
    const std::vector<bool> was_dropped = dropped(y);
    autograd::backward(sum(y));
    const std::vector<float> g = x.grad_vector();
    for (size_t i = 0; i < g.size(); ++i) {
        INFO("element " << i);
        CHECK(g[i] == (was_dropped[i] ? 0.f : 1.f / (1.f - p)));
    }
}

TEST_CASE("Dropout: the generic check passes because it fixes the random stream",
          "[layers][dropout][gradcheck]") {
    LayerExample ex = Dropout::example();
    REQUIRE((ex.flags & kRandomInTraining) != 0);
    const std::string stream_before = training_rng().state();
    for (bool training : {true, false}) {
        GradCheckResult r = check_layer_example(ex, training);
        INFO(r.report);
        CHECK(r.ok);
    }
    CHECK(training_rng().state() == stream_before);  // the check leaves the stream as it was

    // Without the flag each evaluation draws another mask, and the finite differences compare
    // outputs of different functions: the check fails in training (and still passes in
    // evaluation, where nothing is random).
    ex.flags = 0;
    GradCheckResult unfixed = check_layer_example(ex, true);
    INFO(unfixed.report);
    CHECK_FALSE(unfixed.ok);
    CHECK(check_layer_example(ex, false).ok);
}
