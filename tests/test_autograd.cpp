// The tape's contract: order, accumulation, release, no-grad scope, errors.
#include <catch2/catch.hpp>

#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"

using namespace normgrad;
using Catch::Matchers::Contains;

namespace {
Tensor leaf(std::vector<float> v) {
    Tensor t = Tensor::from(Shape{static_cast<int64_t>(v.size())}, v);
    t.set_requires_grad(true);
    return t;
}
}  // namespace

TEST_CASE("backward seeds 1 and follows the chain rule", "[autograd]") {
    Tensor a = leaf({2.f, -3.f});
    Tensor b = leaf({4.f, 5.f});
    Tensor loss = sum(mul(a, b));  // dL/da = b, dL/db = a
    autograd::backward(loss);
    CHECK(a.grad_vector() == std::vector<float>{4.f, 5.f});
    CHECK(b.grad_vector() == std::vector<float>{2.f, -3.f});
}

TEST_CASE("a tensor used twice receives the sum of both gradients", "[autograd]") {
    Tensor a = leaf({3.f});
    Tensor loss = sum(add(mul(a, a), a));  // d/da (a^2 + a) = 2a + 1 = 7
    autograd::backward(loss);
    CHECK(a.grad_vector() == std::vector<float>{7.f});
}

TEST_CASE("gradients accumulate across backward calls until zeroed", "[autograd]") {
    Tensor a = leaf({1.f, 2.f});
    for (int i = 0; i < 3; ++i) autograd::backward(sum(scale(a, 2.f)));
    CHECK(a.grad_vector() == std::vector<float>{6.f, 6.f});
    a.zero_grad();
    CHECK_FALSE(a.has_grad());
    autograd::backward(sum(scale(a, 2.f)));
    CHECK(a.grad_vector() == std::vector<float>{2.f, 2.f});
}

TEST_CASE("the tape is released after backward; a second backward is a clear error", "[autograd]") {
    Tensor a = leaf({1.f});
    Tensor loss = sum(mul(a, a));
    CHECK(autograd::tape_size() == 2);
    autograd::backward(loss);
    CHECK(autograd::tape_size() == 0);
    CHECK_THROWS_WITH(autograd::backward(loss), Contains("already released"));
}

TEST_CASE("intermediate gradients are freed unless retained", "[autograd]") {
    Tensor a = leaf({1.f, 2.f});
    Tensor h = scale(a, 3.f);
    Tensor kept = scale(a, 2.f);
    kept.retain_grad();
    autograd::backward(sum(add(h, kept)));
    CHECK_FALSE(h.has_grad());
    CHECK(kept.grad_vector() == std::vector<float>{1.f, 1.f});
}

TEST_CASE("NoGradGuard records nothing", "[autograd]") {
    Tensor a = leaf({1.f});
    {
        autograd::NoGradGuard guard;
        Tensor y = mul(a, a);
        CHECK_FALSE(y.requires_grad());
        CHECK(autograd::tape_size() == 0);
        CHECK_FALSE(autograd::grad_enabled());
    }
    CHECK(autograd::grad_enabled());
    CHECK_THROWS_WITH(autograd::backward([&] {
                          autograd::NoGradGuard g;
                          return sum(a);
                      }()),
                      Contains("does not require grad"));
}

TEST_CASE("operations on tensors that need no gradient are not recorded", "[autograd]") {
    Tensor x = Tensor::ones({2, 2});
    Tensor y = relu(x);
    CHECK_FALSE(y.requires_grad());
    CHECK(autograd::tape_size() == 0);
}

TEST_CASE("backward runs the tape in reverse execution order", "[autograd]") {
    std::vector<std::string> seen;
    const HookHandle hook =
        autograd::add_backward_hook([&](const autograd::TapeRecord& r) { seen.push_back(r.op); });
    Tensor a = leaf({1.f, -1.f});
    autograd::backward(mean(relu(scale(a, 2.f))));
    CHECK(seen == std::vector<std::string>{"mean", "relu", "scale"});
}

TEST_CASE("backward rejects a non-scalar loss", "[autograd]") {
    Tensor a = leaf({1.f, 2.f});
    Tensor y = scale(a, 2.f);
    CHECK_THROWS_WITH(autograd::backward(y), Contains("one value"));
    autograd::release_tape();
}

TEST_CASE("shape errors name the operation and both shapes", "[autograd][shape]") {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
    CHECK_THROWS_WITH(matmul(a, b), Contains("matmul") && Contains("[2, 3]") && Contains("[4, 5]"));
    CHECK_THROWS_WITH(add(a, b), Contains("add") && Contains("[2, 3]") && Contains("[4, 5]"));
    CHECK_THROWS_WITH(linear(a, b), Contains("linear") && Contains("[2, 3]") && Contains("[4, 5]"));
    CHECK_THROWS_AS(conv2d(a, b, Tensor{}), ShapeError);
    CHECK_THROWS_WITH(batch_norm(Tensor::zeros({1, 3}), Tensor{}, Tensor{}, {}, {}, {},
                                 /*training=*/true, 0.1f, 1e-5f),
                      Contains("more than 1 value per channel"));
    std::vector<int32_t> bad{0, 7};
    CHECK_THROWS_WITH(cross_entropy(Tensor::zeros({2, 3}), bad), Contains("label 7"));
}
