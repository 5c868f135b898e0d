// standardize_affine (src/ops/standardize.cpp): its gradient by finite differences, its values
// and gradients against the composed multiply_add(standardize(x), w, b), with only some inputs
// wanting gradients, independence of the thread count, the shapes it leaves to the composed form,
// and its errors.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include "check_close.hpp"
#include "fixture.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/gradcheck.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/multiply_add.hpp"
#include "normgrad/ops/reduce.hpp"
#include "normgrad/ops/standardize.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/random.hpp"
#include "random_tensors.hpp"
#include "same_bits.hpp"

using namespace normgrad;
using normgrad::testing::check_close;
using normgrad::testing::check_same_bits_at_1_and_2_threads;
using normgrad::testing::NamedOutputs;
using normgrad::testing::randn;

namespace {

struct Case {
    Shape x;
    int dims;
    Shape w;  // b has w's shape
};

// LayerNorm's weight over the whole row (R = 1), GroupNorm's per channel of x viewed as
// [N, G, C / G, H W] (runs of R values, J channels a row), one weight a row (J = 1), and sizes
// split between threads whose last block of 8 rows is shorter (51 and 204 rows).
const std::vector<Case> kCases = {
    {{3, 4}, 1, {4}},
    {{2, 3, 4}, 2, {3, 4}},
    {{2, 3, 2, 3}, 3, {3, 2, 3}},
    {{2, 2, 2, 3}, 2, {2, 2, 1}},
    {{3, 4, 1, 5}, 2, {4, 1, 1}},
    {{2, 3, 4}, 1, {3, 1}},
    {{1, 6}, 1, {6}},
    {{51, 32, 14, 14}, 3, {32, 14, 14}},  // these two: more values than the threads split at
    {{51, 4, 8, 196}, 2, {4, 8, 1}},      // when they sleep (kernels/parallel.hpp)
};

}  // namespace

TEST_CASE("gradcheck: standardize_affine, LayerNorm's and GroupNorm's weights",
          "[gradcheck][ops][norms]") {
    for (const Case& c : kCases) {
        if (c.x.numel() > 500) continue;  // the finite differences of the small cases suffice
        INFO(c.x.str() << " dims " << c.dims << " with " << c.w.str());
        // A mean away from 0 and a spread away from 1, so that the mean and variance paths both
        // matter; w away from 1, so that a missing w in dx shows.
        Tensor x = randn(c.x, 1, 1.5f, 2.f).set_name("x");
        Tensor w = randn(c.w, 2, 1.f, 0.5f).set_name("w");
        Tensor b = randn(c.w, 3).set_name("b");
        GradCheckOptions opt;
        opt.step = 1e-3;  // strongly curved for short rows, like standardize's check
        const GradCheckResult r =
            gradcheck([&] { return standardize_affine(x, c.dims, 1e-5f, w, b); }, {x, w, b}, opt);
        INFO(r.report);
        CHECK(r.ok);
        CHECK(r.elements_checked == x.numel() + 2 * w.numel());
    }
}

TEST_CASE("standardize_affine equals multiply_add(standardize(x), w, b), forward and backward",
          "[ops][norms]") {
    // Which of x, w and b want gradients: all, the weights alone (x a leaf without), x alone.
    struct Wants {
        bool x, wb;
    };
    for (const Case& c : kCases) {
        for (Wants want : {Wants{true, true}, Wants{false, true}, Wants{true, false}}) {
            INFO(c.x.str() << " dims " << c.dims << " with " << c.w.str() << ", gradients for x "
                           << want.x << ", w and b " << want.wb);
            const Tensor x0 = randn(c.x, 4, 0.7f, 2.f), w0 = randn(c.w, 5, 1.f, 0.5f),
                         b0 = randn(c.w, 6), r = randn(c.x, 7), q = randn(c.x, 8);
            auto leaf = [](const Tensor& t, bool wants) {
                return t.clone().set_requires_grad(wants);
            };
            Tensor xa = leaf(x0, want.x), wa = leaf(w0, want.wb), ba = leaf(b0, want.wb);
            Tensor xb = leaf(x0, want.x), wb = leaf(w0, want.wb), bb = leaf(b0, want.wb);
            // x also reaches the loss through mul(x, q), and w through mul(w, w): their gradients
            // are written by one record and added by the other (the accumulate paths).
            const auto loss = [&](const Tensor& y, const Tensor& x, const Tensor& w) {
                return add(sum(add(mul(y, r), mul(x, q))), sum(mul(w, w)));
            };
            const Tensor fast = standardize_affine(xa, c.dims, 1e-5f, wa, ba);
            autograd::backward(loss(fast, xa, wa));
            const Tensor slow = multiply_add(standardize(xb, c.dims, 1e-5f), wb, bb);
            autograd::backward(loss(slow, xb, wb));
            check_close(fast.to_vector(), slow.to_vector(), "y", 1e-5);
            if (want.x) check_close(xa.grad_vector(), xb.grad_vector(), "dx", 1e-5);
            if (want.wb) {
                check_close(wa.grad_vector(), wb.grad_vector(), "dw", 1e-5);
                check_close(ba.grad_vector(), bb.grad_vector(), "db", 1e-5);
            }
            if (!want.x) CHECK_FALSE(xa.has_grad());
            if (!want.wb) CHECK_FALSE(wa.has_grad());
        }
    }
}

TEST_CASE("standardize_affine gives the same bits at 1 and 2 threads", "[ops][norms]") {
    for (const Case& c : {kCases[7], kCases[8]}) {
        INFO(c.x.str());
        check_same_bits_at_1_and_2_threads([&] {
            Tensor x = randn(c.x, 9, 0.5f, 3.f).set_requires_grad(true);
            Tensor w = randn(c.w, 10).set_requires_grad(true);
            Tensor b = randn(c.w, 11).set_requires_grad(true);
            const Tensor out = standardize_affine(x, c.dims, 1e-5f, w, b);
            autograd::backward(sum(mul(out, randn(c.x, 12))));
            return NamedOutputs{{"y", out.to_vector()},
                                {"dx", x.grad_vector()},
                                {"dw", w.grad_vector()},
                                {"db", b.grad_vector()}};
        });
    }
}

TEST_CASE("standardize_affine records one operation where it fuses, the composed form elsewhere",
          "[ops][norms]") {
    const auto records = [](const Shape& xs, int dims, const Shape& ws, const Shape& bs) {
        autograd::release_tape();
        Tensor x = Tensor::ones(xs).set_requires_grad(true);
        standardize_affine(x, dims, 1e-5f, Tensor::ones(ws), Tensor::zeros(bs));
        const size_t n = autograd::tape_size();
        autograd::release_tape();
        return n;
    };
    CHECK(records({2, 3, 4}, 2, {3, 4}, {3, 4}) == 1);
    CHECK(records({2, 2, 2, 3}, 2, {2, 2, 1}, {2, 2, 1}) == 1);
    // A row holding more than one period of w, w and b of different shapes, and a w that is not
    // one block of x's axes: standardize, then multiply_add (itself add and mul for the last two).
    CHECK(records({2, 3, 4}, 2, {4}, {4}) == 2);
    CHECK(records({2, 3, 4}, 2, {3, 4}, {4}) == 3);
    CHECK(records({2, 3, 4}, 2, {2, 1, 4}, {2, 1, 4}) == 3);
    // The composed form's values.
    const Tensor x = randn({2, 3, 4}, 13), w = randn({4}, 14), b = randn({4}, 15);
    check_close(standardize_affine(x, 2, 1e-5f, w, b).to_vector(),
                multiply_add(standardize(x, 2, 1e-5f), w, b).to_vector(), "y (composed)", 1e-6);
}

TEST_CASE("standardize_affine: wrong dims, eps and shapes are clear errors", "[ops][norms]") {
    const Tensor x = Tensor::zeros({2, 3}), w = Tensor::ones({3}), b = Tensor::zeros({3});
    CHECK_THROWS_WITH(standardize_affine(x, 0, 1e-5f, w, b),
                      "standardize_affine: dims must be 1 to the rank of the input [2, 3], got 0");
    CHECK_THROWS_WITH(standardize_affine(x, 1, -1.f, w, b),
                      "standardize_affine: eps must be finite and at least 0, got -1");
    CHECK_THROWS_WITH(standardize_affine(x, 1, std::numeric_limits<float>::infinity(), w, b),
                      "standardize_affine: eps must be finite and at least 0, got inf");
    CHECK_THROWS_WITH(
        standardize_affine(Tensor::zeros({2, 0}), 1, 1e-5f, Tensor::ones({0}), Tensor::ones({0})),
        "standardize_affine: the last 1 axes of [2, 0] hold no elements");
    // A weight that does not broadcast: mul's error, from the composed form.
    CHECK_THROWS_WITH(standardize_affine(x, 1, 1e-5f, Tensor::ones({4}), Tensor::ones({4})),
                      Catch::Matchers::Contains("mul"));
    // No rows at all is fine.
    CHECK(standardize_affine(Tensor::zeros({0, 3}), 1, 1e-5f, w, b).numel() == 0);
}
