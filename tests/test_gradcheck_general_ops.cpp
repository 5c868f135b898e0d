// The general operations (issue 14): broadcasting arithmetic, unary functions, reductions over
// axes, permute/transpose/concat/slice. Finite-difference gradient checks on many shapes, the
// forward values against numbers worked out by hand, and the errors for shapes and axes that do
// not fit.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/gradcheck.hpp"
#include "normgrad/ops.hpp"
#include "random_tensors.hpp"

using namespace normgrad;
using Catch::Matchers::Contains;
using normgrad::testing::randn;

namespace {

Tensor uniform(const Shape& s, uint64_t seed, float lo, float hi) {
    Rng rng(seed);
    return Tensor::uniform(s, rng, lo, hi);
}

// Values at least `gap` away from 0: a divisor far from its pole, abs away from its kink.
Tensor away_from_zero(const Shape& s, uint64_t seed, float gap) {
    Tensor t = randn(s, seed);
    for (int64_t i = 0; i < t.numel(); ++i) {
        float& v = t.data()[i];
        if (std::abs(v) < gap) v = v < 0 ? -gap - std::abs(v) : gap + v;
    }
    return t;
}

// A random permutation of evenly spaced values, `spacing` apart: a finite-difference step (1e-2)
// cannot change which element of a group is the maximum.
Tensor distinct_values(const Shape& s, uint64_t seed, float spacing = 0.05f) {
    Rng rng(seed);
    std::vector<float> v(static_cast<size_t>(s.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = spacing * (static_cast<float>(i) - v.size() / 2.f);
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
    return Tensor::from(s, v);
}

Tensor values(const Shape& s, std::vector<float> v) {
    return Tensor::from(s, v);
}

void check(const std::function<Tensor()>& f, const std::vector<Tensor>& wrt,
           GradCheckOptions opt = {}) {
    GradCheckResult r = gradcheck(f, wrt, opt);
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.elements_checked > 0);
}

std::string axes_str(const std::vector<int>& axes) {
    std::string s = "{";
    for (int a : axes) s += std::to_string(a) + " ";
    return s + "}";
}

// Each pair broadcasts: every direction (left operand, right operand, both), ranks 0 to 4,
// size-1 shapes, odd sizes; the last pair is the same-shape path.
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs{
    {Shape{3, 1}, Shape{1, 4}},
    {Shape{2, 3, 4, 5}, Shape{3, 1, 1}},
    {Shape{3, 1, 1}, Shape{2, 3, 4, 5}},
    {Shape{5}, Shape{2, 3, 5}},
    {Shape{2, 3, 5}, Shape{5}},
    {Shape{1}, Shape{3, 7}},
    {Shape{3, 7}, Shape{1}},
    {Shape{}, Shape{2, 3}},
    {Shape{2, 1, 5, 1}, Shape{1, 3, 1, 4}},
    {Shape{7, 1}, Shape{7}},
    {Shape{1, 1}, Shape{1}},
    {Shape{3, 5}, Shape{3, 5}},
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Gradient checks

TEST_CASE("gradcheck: add, sub, mul, div broadcasting in every direction", "[gradcheck][ops]") {
    uint64_t seed = 100;
    for (const auto& [sa, sb] : kBroadcastPairs) {
        INFO("a " << sa.str() << ", b " << sb.str());
        Tensor a = randn(sa, ++seed).set_name("a"), b = randn(sb, ++seed).set_name("b");
        Tensor d = away_from_zero(sb, ++seed, 0.7f).set_name("b");  // a divisor far from 0
        check([&] { return add(a, b); }, {a, b});
        check([&] { return sub(a, b); }, {a, b});
        check([&] { return mul(a, b); }, {a, b});
        check([&] { return div(a, d); }, {a, d});
    }
}

TEST_CASE("gradcheck: add_scalar", "[gradcheck][ops]") {
    for (const Shape& s : {Shape{7}, Shape{3, 5}, Shape{2, 3, 1, 5}}) {
        Tensor x = randn(s, 120).set_name("x");
        check([&] { return add_scalar(x, -1.5f); }, {x});
    }
}

TEST_CASE("gradcheck: broadcasting with a tensor used twice", "[gradcheck][ops]") {
    Tensor x = randn({3, 1}, 121).set_name("x");
    check([&] { return mul(x, transpose(x, 0, 1)); }, {x});  // [3, 1] * [1, 3]
    Tensor m = randn({3, 5}, 122).set_name("m");
    check([&] { return add(sum(m, {1}, true), m); }, {m});  // [3, 1] + [3, 5]
    check([&] { return sub(m, mean(m, {0}, true)); }, {m});
    check([&] { return div(m, add_scalar(mul(m, m), 1.f)); }, {m});
    Tensor v = randn({5}, 123).set_name("v");
    check([&] { return mul(m, v); }, {m, v});
    check([&] { return mul(v, m); }, {m, v});
}

TEST_CASE("gradcheck: exp, log, sqrt, rsqrt, pow, abs", "[gradcheck][ops]") {
    for (const Shape& s : {Shape{7}, Shape{3, 5}, Shape{2, 3, 1, 5}}) {
        INFO(s.str());
        Tensor x = randn(s, 130).set_name("x");
        Tensor pos = uniform(s, 131, 0.5f, 3.f).set_name("x");  // log, sqrt, rsqrt, pow domain
        Tensor nz = away_from_zero(s, 132, 0.05f).set_name("x");
        check([&] { return normgrad::exp(x); }, {x});
        check([&] { return normgrad::log(pos); }, {pos});
        check([&] { return normgrad::sqrt(pos); }, {pos});
        check([&] { return rsqrt(pos); }, {pos});
        check([&] { return normgrad::pow(pos, 2.5f); }, {pos});
        check([&] { return normgrad::pow(pos, -1.5f); }, {pos});
        check([&] { return normgrad::pow(x, 3.f); }, {x});  // integer exponent: any sign
        check([&] { return normgrad::abs(nz); }, {nz});
    }
}

namespace {

struct AxesCase {
    Shape shape;
    std::vector<int> axes;
};

// Single axes, several, negative ones, all (listed and as the empty set), on ranks 1 to 4.
const std::vector<AxesCase> kAxesCases{
    {Shape{7}, {0}},
    {Shape{7}, {}},
    {Shape{3, 5}, {0}},
    {Shape{3, 5}, {1}},
    {Shape{3, 5}, {-1}},
    {Shape{3, 5}, {0, 1}},
    {Shape{3, 5}, {}},
    {Shape{3, 4, 5}, {1}},
    {Shape{3, 4, 5}, {-1, 0}},
    {Shape{3, 4, 5}, {-2}},
    {Shape{2, 3, 4, 5}, {0}},
    {Shape{2, 3, 4, 5}, {3}},
    {Shape{2, 3, 4, 5}, {0, 2, 3}},
    {Shape{2, 3, 4, 5}, {1, -1}},
    {Shape{2, 3, 4, 5}, {}},
    {Shape{2, 3, 4, 5}, {3, 2, 1, 0}},
};

}  // namespace

TEST_CASE("gradcheck: sum and mean over axes, keepdim on and off", "[gradcheck][ops]") {
    for (const AxesCase& c : kAxesCases)
        for (bool keepdim : {false, true}) {
            INFO(c.shape.str() << " axes " << axes_str(c.axes) << " keepdim " << keepdim);
            Tensor x = randn(c.shape, 140).set_name("x");
            check([&] { return sum(x, c.axes, keepdim); }, {x});
            check([&] { return mean(x, c.axes, keepdim); }, {x});
        }
}

TEST_CASE("gradcheck: var over axes, biased and unbiased, keepdim on and off", "[gradcheck][ops]") {
    for (const AxesCase& c : kAxesCases)
        for (bool unbiased : {false, true})
            for (bool keepdim : {false, true}) {
                INFO(c.shape.str() << " axes " << axes_str(c.axes) << " unbiased " << unbiased
                                   << " keepdim " << keepdim);
                Tensor x = randn(c.shape, 150, 2.f).set_name("x");
                check([&] { return var(x, c.axes, unbiased, keepdim); }, {x});
            }
}

TEST_CASE("gradcheck: max over axes with distinct values", "[gradcheck][ops]") {
    for (const AxesCase& c : kAxesCases)
        for (bool keepdim : {false, true}) {
            INFO(c.shape.str() << " axes " << axes_str(c.axes) << " keepdim " << keepdim);
            Tensor x = distinct_values(c.shape, 160).set_name("x");
            check([&] { return normgrad::max(x, c.axes, keepdim); }, {x});
        }
}

TEST_CASE("gradcheck: reductions whose input also reaches the loss another way",
          "[gradcheck][ops]") {
    // The second contribution to x's gradient is added to the first (the accumulate paths).
    Tensor x = distinct_values({3, 5}, 161).set_name("x");
    check([&] { return add(normgrad::max(x, {1}, true), x); }, {x});
    check([&] { return add(x, normgrad::max(x, {0}, true)); }, {x});
    check([&] { return add(var(x, {1}, false, true), x); }, {x});
    check([&] { return add(x, var(x, {-1}, true, true)); }, {x});
    check([&] { return add(x, sum(x, {0}, true)); }, {x});
}

TEST_CASE("gradcheck: permute and transpose on ranks 2 to 4", "[gradcheck][ops]") {
    Tensor m = randn({3, 5}, 170).set_name("m");
    Tensor t = randn({3, 4, 5}, 171).set_name("t");
    Tensor q = randn({2, 3, 4, 5}, 172).set_name("q");
    check([&] { return permute(m, {1, 0}); }, {m});
    check([&] { return permute(t, {2, 0, 1}); }, {t});
    check([&] { return permute(t, {-1, 1, 0}); }, {t});
    check([&] { return permute(q, {3, 1, 0, 2}); }, {q});
    check([&] { return transpose(m, 0, 1); }, {m});
    check([&] { return transpose(t, 0, 2); }, {t});
    check([&] { return transpose(q, 1, -1); }, {q});
    check([&] { return add(permute(m, {1, 0}), transpose(m, -1, -2)); }, {m});  // used twice
}

TEST_CASE("gradcheck: concat on ranks 2 to 4", "[gradcheck][ops]") {
    Tensor a = randn({3, 5}, 180).set_name("a"), b = randn({2, 5}, 181).set_name("b");
    Tensor c = randn({3, 1}, 182).set_name("c");
    check([&] { return concat({a, b}, 0); }, {a, b});
    check([&] { return concat({a, c, a}, 1); }, {a, c});  // a twice
    Tensor d = randn({2, 3, 4}, 183).set_name("d"), e = randn({2, 1, 4}, 184).set_name("e");
    Tensor f = randn({2, 5, 4}, 185).set_name("f");
    check([&] { return concat({d, e, f}, 1); }, {d, e, f});
    check([&] { return concat({d, e, f}, -2); }, {d, f});  // e needs no gradient
    Tensor g = randn({2, 3, 1, 5}, 186).set_name("g"), h = randn({2, 3, 1, 2}, 187).set_name("h");
    check([&] { return concat({g, h}, -1); }, {g, h});
    check([&] { return concat({g, g}, 2); }, {g});
    check([&] { return concat({g}, 0); }, {g});
}

TEST_CASE("gradcheck: slice on ranks 1 to 4", "[gradcheck][ops]") {
    Tensor v = randn({7}, 190).set_name("v");
    Tensor m = randn({3, 5}, 191).set_name("m");
    Tensor t = randn({3, 4, 5}, 192).set_name("t");
    Tensor q = randn({2, 3, 4, 5}, 193).set_name("q");
    check([&] { return slice(v, 0, 2, 5); }, {v});
    check([&] { return slice(m, 0, 1, 3); }, {m});
    check([&] { return slice(m, -1, 0, 5); }, {m});
    check([&] { return slice(t, 1, 1, 2); }, {t});
    check([&] { return slice(t, -1, 3, 5); }, {t});
    check([&] { return slice(q, 0, 1, 2); }, {q});
    check([&] { return slice(q, 2, 0, 3); }, {q});
    check([&] { return slice(q, -1, 1, 4); }, {q});
    // Two overlapping slices of one tensor: their gradients add where they overlap.
    check([&] { return concat({slice(m, 1, 0, 3), slice(m, 1, 2, 5)}, 0); }, {m});
}

TEST_CASE("gradcheck: a small normalisation built from the general ops", "[gradcheck][ops]") {
    // Layer normalisation over the last two axes: (x - mean) * rsqrt(var + eps) * gamma + beta.
    Tensor x = randn({2, 3, 4, 5}, 195, 2.f).set_name("x");
    Tensor gamma = randn({4, 5}, 196).set_name("gamma"), beta = randn({5}, 197).set_name("beta");
    GradCheckOptions opt;
    opt.step = 1e-3;
    check(
        [&] {
            Tensor mu = mean(x, {-2, -1}, true), v = var(x, {-2, -1}, false, true);
            Tensor xhat = mul(sub(x, mu), rsqrt(add_scalar(v, 1e-5f)));
            return add(mul(xhat, gamma), beta);
        },
        {x, gamma, beta}, opt);
}

// ---------------------------------------------------------------------------------------------
// Forward values and gradients worked out by hand

TEST_CASE("broadcast arithmetic: values", "[ops][broadcast]") {
    Tensor a = values({3, 1}, {1, 2, 3}), b = values({1, 4}, {10, 20, 30, 40});
    Tensor y = add(a, b);
    CHECK(y.shape() == Shape{3, 4});
    CHECK(y.to_vector() == std::vector<float>{11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
    CHECK(sub(b, a).to_vector() == std::vector<float>{9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37});
    CHECK(mul(a, b).to_vector() ==
          std::vector<float>{10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120});
    Tensor m = values({2, 3}, {1, 2, 3, 4, 5, 6}), row = values({3}, {1, 2, 4});
    CHECK(div(m, row).to_vector() == std::vector<float>{1, 1, 0.75f, 4, 2.5f, 1.5f});
    CHECK(div(row, m).shape() == Shape{2, 3});
    CHECK(add(Tensor::scalar(1.f), m).to_vector() == std::vector<float>{2, 3, 4, 5, 6, 7});
    CHECK(add_scalar(row, 0.5f).to_vector() == std::vector<float>{1.5f, 2.5f, 4.5f});
}

TEST_CASE("broadcast arithmetic: the broadcast input's gradient is summed", "[ops][broadcast]") {
    Tensor a = values({3, 1}, {1, 2, 3}).set_requires_grad(),
           b = values({1, 4}, {10, 20, 30, 40}).set_requires_grad();
    autograd::backward(sum(mul(a, b)));
    // d/da_i sum_ij a_i b_j = sum_j b_j = 100; d/db_j = sum_i a_i = 6.
    CHECK(a.grad_vector() == std::vector<float>{100, 100, 100});
    CHECK(b.grad_vector() == std::vector<float>{6, 6, 6, 6});

    Tensor n = values({2}, {1, 2}).set_requires_grad(), d = values({1}, {4}).set_requires_grad();
    autograd::backward(sum(div(n, d)));
    // d/dn_i = 1/4; d/dd = -sum_i n_i / d^2 = -3/16.
    CHECK(n.grad_vector() == std::vector<float>{0.25f, 0.25f});
    CHECK(d.grad_vector()[0] == Approx(-3.0 / 16.0));
}

TEST_CASE("unary functions: values and gradients at chosen points", "[ops][unary]") {
    Tensor x = values({4}, {1, 4, 0.25f, 9}).set_requires_grad();
    CHECK(normgrad::sqrt(x).to_vector() == std::vector<float>{1, 2, 0.5f, 3});
    CHECK(rsqrt(x).to_vector() == std::vector<float>{1, 0.5f, 2, 1.f / 3});
    CHECK(normgrad::pow(x, 2.f).to_vector() == std::vector<float>{1, 16, 0.0625f, 81});
    CHECK(normgrad::log(values({2}, {1, std::exp(2.f)})).to_vector()[1] == Approx(2.f));
    CHECK(normgrad::exp(values({2}, {0, 1})).to_vector()[1] == Approx(std::exp(1.f)));
    autograd::backward(sum(rsqrt(x)));
    // d/dx x^(-1/2) = -1/2 x^(-3/2): at 4 that is -1/16.
    CHECK(x.grad_vector()[1] == Approx(-1.0 / 16.0));

    Tensor z = values({3}, {-2, 0, 3}).set_requires_grad();
    CHECK(normgrad::abs(z).to_vector() == std::vector<float>{2, 0, 3});
    autograd::backward(sum(normgrad::abs(z)));
    CHECK(z.grad_vector() == std::vector<float>{-1, 0, 1});  // 0 at the kink
    z.zero_grad();
    autograd::backward(sum(normgrad::pow(z, 0.f)));
    CHECK(z.grad_vector() == std::vector<float>{0, 0, 0});  // x^0 = 1 everywhere, also at 0
}

TEST_CASE("reductions over axes: values and shapes", "[ops][reduce]") {
    Tensor x = values({2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(sum(x, {0}).to_vector() == std::vector<float>{5, 7, 9});
    CHECK(sum(x, {0}).shape() == Shape{3});
    CHECK(sum(x, {0}, true).shape() == Shape{1, 3});
    CHECK(sum(x, {-1}).to_vector() == std::vector<float>{6, 15});
    CHECK(sum(x, {}).shape() == Shape{});
    CHECK(sum(x, {}).item() == 21.f);
    CHECK(sum(x, {1, 0}, true).shape() == Shape{1, 1});
    CHECK(mean(x, {0}).to_vector() == std::vector<float>{2.5f, 3.5f, 4.5f});
    CHECK(mean(x, {1}, true).shape() == Shape{2, 1});
    CHECK(mean(x, {1}, true).to_vector() == std::vector<float>{2, 5});
    Tensor q = Tensor::ones({2, 3, 4, 5});
    CHECK(sum(q, {1, 3}).shape() == Shape{2, 4});
    CHECK(sum(q, {1, 3}).to_vector() == std::vector<float>(8, 15.f));
    CHECK(sum(q, {-3, -1}, true).shape() == Shape{2, 1, 4, 1});
    CHECK(sum(Tensor::scalar(3.f), {}).item() == 3.f);
}

TEST_CASE("var: biased and unbiased values", "[ops][reduce]") {
    Tensor v = values({4}, {1, 2, 3, 4});
    CHECK(var(v, {}).item() == Approx(1.25));
    CHECK(var(v, {0}, /*unbiased=*/true).item() == Approx(5.0 / 3.0));
    Tensor x = values({2, 3}, {1, 2, 3, 4, 6, 8});
    // Row 0: mean 2, squared deviations 1, 0, 1. Row 1: mean 6, 4, 0, 4.
    CHECK(var(x, {1}).shape() == Shape{2});
    CHECK(var(x, {1}).to_vector()[0] == Approx(2.0 / 3.0));
    CHECK(var(x, {1}).to_vector()[1] == Approx(8.0 / 3.0));
    CHECK(var(x, {-1}, true, true).shape() == Shape{2, 1});
    CHECK(var(x, {-1}, true, true).to_vector() == std::vector<float>{1, 4});
    // Columns: (1, 4), (2, 6), (3, 8): biased (d/2)^2.
    CHECK(var(x, {0}).to_vector() == std::vector<float>{2.25f, 4, 6.25f});
}

TEST_CASE("var: the gradient is 2 (x - mean) / n'", "[ops][reduce]") {
    Tensor v = values({4}, {1, 2, 3, 4}).set_requires_grad();
    autograd::backward(var(v, {}));
    // mean 2.5, n = 4: 2 (x - 2.5) / 4.
    CHECK(v.grad_vector() == std::vector<float>{-0.75f, -0.25f, 0.25f, 0.75f});
    v.zero_grad();
    autograd::backward(var(v, {}, /*unbiased=*/true));
    CHECK(v.grad_vector()[0] == Approx(-1.0));  // 2 (1 - 2.5) / 3
    CHECK(v.grad_vector()[3] == Approx(1.0));
}

TEST_CASE("var: unbiased over one element is NaN, as torch.var", "[ops][reduce]") {
    Tensor x = values({2, 1}, {3, 5}).set_requires_grad();
    Tensor y = var(x, {1}, /*unbiased=*/true);
    CHECK(std::isnan(y.to_vector()[0]));
    CHECK(std::isnan(y.to_vector()[1]));
    CHECK(var(x, {1}).to_vector() == std::vector<float>{0, 0});  // biased: 0
    autograd::backward(sum(y));
    CHECK(std::isnan(x.grad_vector()[0]));
}

TEST_CASE("max over axes: values, and the gradient goes to the first maximum", "[ops][reduce]") {
    Tensor x = values({2, 3}, {1, 5, 3, 7, 2, 7}).set_requires_grad();
    CHECK(normgrad::max(x, {1}).to_vector() == std::vector<float>{5, 7});
    CHECK(normgrad::max(x, {0}).to_vector() == std::vector<float>{7, 5, 7});
    CHECK(normgrad::max(x, {}).item() == 7.f);
    CHECK(normgrad::max(x, {0, 1}, true).shape() == Shape{1, 1});
    autograd::backward(sum(normgrad::max(x, {1})));
    CHECK(x.grad_vector() == std::vector<float>{0, 1, 0, 1, 0, 0});  // row 1: the first 7
    x.zero_grad();
    autograd::backward(normgrad::max(x, {}));
    CHECK(x.grad_vector() == std::vector<float>{0, 0, 0, 1, 0, 0});
    Tensor n = values({3}, {1, NAN, 2});
    CHECK(std::isnan(normgrad::max(n, {0}).item()));  // NaN propagates
}

TEST_CASE("permute, transpose, concat, slice: values", "[ops][reshape]") {
    Tensor x = values({2, 3}, {0, 1, 2, 3, 4, 5});
    CHECK(transpose(x, 0, 1).shape() == Shape{3, 2});
    CHECK(transpose(x, 0, 1).to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
    CHECK(permute(x, {0, 1}).to_vector() == x.to_vector());
    Tensor t = Tensor::empty({2, 3, 4});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
    Tensor p = permute(t, {2, 0, 1});  // p[k][i][j] = t[i][j][k]
    CHECK(p.shape() == Shape{4, 2, 3});
    for (int k = 0; k < 4; ++k)
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 3; ++j)
                CHECK(p.data()[(k * 2 + i) * 3 + j] == t.data()[(i * 3 + j) * 4 + k]);
    Tensor a = values({2, 1}, {1, 2}), b = values({2, 2}, {3, 4, 5, 6});
    CHECK(concat({a, b}, 1).shape() == Shape{2, 3});
    CHECK(concat({a, b}, 1).to_vector() == std::vector<float>{1, 3, 4, 2, 5, 6});
    CHECK(concat({b, a}, -1).to_vector() == std::vector<float>{3, 4, 1, 5, 6, 2});
    CHECK(concat({b, b}, 0).to_vector() == std::vector<float>{3, 4, 5, 6, 3, 4, 5, 6});
    Tensor m = values({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    CHECK(slice(m, 1, 1, 3).shape() == Shape{3, 2});
    CHECK(slice(m, 1, 1, 3).to_vector() == std::vector<float>{1, 2, 5, 6, 9, 10});
    CHECK(slice(m, -2, 2, 3).to_vector() == std::vector<float>{8, 9, 10, 11});
    CHECK(slice(m, 0, 1, 1).shape() == Shape{0, 4});
}

TEST_CASE("slice scatters its gradient into zeros, concat slices it back", "[ops][reshape]") {
    Tensor m = values({2, 3}, {1, 2, 3, 4, 5, 6}).set_requires_grad();
    autograd::backward(sum(mul(slice(m, 1, 1, 2), values({2, 1}, {10, 20}))));
    CHECK(m.grad_vector() == std::vector<float>{0, 10, 0, 0, 20, 0});
    Tensor a = values({1, 2}, {1, 2}).set_requires_grad(),
           b = values({1, 1}, {3}).set_requires_grad();
    autograd::backward(sum(mul(concat({a, b}, 1), values({3}, {7, 8, 9}))));
    CHECK(a.grad_vector() == std::vector<float>{7, 8});
    CHECK(b.grad_vector() == std::vector<float>{9});
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST_CASE("broadcast errors name the operation and both shapes", "[ops][broadcast]") {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 2}), c = Tensor::zeros({4});
    CHECK_THROWS_AS(add(a, b), ShapeError);
    CHECK_THROWS_WITH(add(a, b), Contains("add:") && Contains("[2, 3]") && Contains("[3, 2]"));
    CHECK_THROWS_WITH(sub(a, c), Contains("sub:") && Contains("[2, 3]") && Contains("[4]"));
    CHECK_THROWS_WITH(mul(c, a), Contains("mul:") && Contains("[4]") && Contains("[2, 3]"));
    CHECK_THROWS_WITH(div(Tensor::zeros({2, 3, 4, 5}), Tensor::zeros({2, 4, 1})),
                      Contains("div:") && Contains("[2, 3, 4, 5]") && Contains("[2, 4, 1]"));
}

TEST_CASE("reduction axes are validated", "[ops][reduce]") {
    Tensor x = Tensor::zeros({2, 3});
    CHECK_THROWS_AS(sum(x, {2}), ShapeError);
    CHECK_THROWS_WITH(sum(x, {2}), Contains("sum:") && Contains("axis 2") && Contains("rank 2"));
    CHECK_THROWS_WITH(mean(x, {-3}),
                      Contains("mean:") && Contains("axis -3") && Contains("rank 2"));
    CHECK_THROWS_WITH(var(x, {1, -1}), Contains("var:") && Contains("axis 1") &&
                                           Contains("twice") && Contains("rank 2"));
    CHECK_THROWS_WITH(normgrad::max(x, {0, 0}), Contains("max:") && Contains("twice"));
    CHECK_THROWS_WITH(sum(Tensor::scalar(1.f), {0}), Contains("sum:") && Contains("rank 0"));
    CHECK_THROWS_WITH(mean(Tensor::zeros({2, 0}), {1}), Contains("mean:") && Contains("[2, 0]"));
    CHECK_THROWS_WITH(normgrad::max(Tensor::zeros({0}), {}), Contains("max:"));
}

TEST_CASE("permute, transpose, concat, slice: bad arguments", "[ops][reshape]") {
    Tensor t = Tensor::zeros({2, 3, 4});
    CHECK_THROWS_WITH(permute(t, {0, 1}), Contains("permute:") && Contains("[2, 3, 4]"));
    CHECK_THROWS_WITH(permute(t, {0, 1, 1}), Contains("permute:") && Contains("twice"));
    CHECK_THROWS_WITH(permute(t, {0, 1, 3}),
                      Contains("permute:") && Contains("axis 3") && Contains("rank 3"));
    CHECK_THROWS_WITH(transpose(t, 0, 3), Contains("transpose:") && Contains("axis 3"));
    CHECK_THROWS_WITH(concat({t, Tensor::zeros({2, 5, 5})}, 1),
                      Contains("concat:") && Contains("[2, 3, 4]") && Contains("[2, 5, 5]"));
    CHECK_THROWS_WITH(concat({t, Tensor::zeros({2, 3})}, 0), Contains("concat:"));
    CHECK_THROWS_WITH(concat({}, 0), Contains("concat:"));
    CHECK_THROWS_WITH(concat({t}, 3), Contains("concat:") && Contains("axis 3"));
    CHECK_THROWS_WITH(slice(t, 1, 2, 4),
                      Contains("slice:") && Contains("[2, 4)") && Contains("[2, 3, 4]"));
    CHECK_THROWS_WITH(slice(t, 1, 2, 1), Contains("slice:"));
    CHECK_THROWS_WITH(slice(t, 0, -1, 1), Contains("slice:"));
    CHECK_THROWS_WITH(slice(t, -4, 0, 1), Contains("slice:") && Contains("axis -4"));
}
