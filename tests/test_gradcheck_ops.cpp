// Finite-difference gradient checks of every operation, on several shapes each.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include "normgrad/gradcheck.hpp"
#include "normgrad/ops.hpp"
#include "random_tensors.hpp"

using namespace normgrad;
using normgrad::testing::randn;

namespace {

// Values at least `gap` away from 0, so a finite-difference step never crosses a kink at zero.
Tensor away_from_zero(const Shape& s, uint64_t seed, float gap = 0.05f) {
    Tensor t = randn(s, seed);
    for (int64_t i = 0; i < t.numel(); ++i) {
        float& v = t.data()[i];
        if (std::abs(v) < gap) v = v < 0 ? -gap - std::abs(v) : gap + v;
    }
    return t;
}

// A random permutation of evenly spaced values: no two entries within `spacing` of each other,
// so the arg-max of a pooling window cannot change under a small step.
Tensor distinct_values(const Shape& s, uint64_t seed, float spacing = 0.05f) {
    Rng rng(seed);
    std::vector<float> v(static_cast<size_t>(s.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = spacing * (static_cast<float>(i) - v.size() / 2.f);
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
    return Tensor::from(s, v);
}

void check(const std::function<Tensor()>& f, const std::vector<Tensor>& wrt,
           GradCheckOptions opt = {}) {
    GradCheckResult r = gradcheck(f, wrt, opt);
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.elements_checked > 0);
}

}  // namespace

TEST_CASE("gradcheck: matmul", "[gradcheck][ops]") {
    for (auto [M, K, N] : {std::tuple{3, 4, 5}, {1, 7, 2}, {5, 1, 3}}) {
        Tensor a = randn({M, K}, 1).set_name("a"), b = randn({K, N}, 2).set_name("b");
        check([&] { return matmul(a, b); }, {a, b});
    }
}

TEST_CASE("gradcheck: linear with and without bias", "[gradcheck][ops]") {
    for (auto [N, in, out] : {std::tuple{4, 3, 5}, {1, 6, 2}, {7, 5, 1}}) {
        Tensor x = randn({N, in}, 3).set_name("x"), w = randn({out, in}, 4).set_name("w");
        Tensor b = randn({out}, 5).set_name("b");
        check([&] { return linear(x, w, b); }, {x, w, b});
        check([&] { return linear(x, w); }, {x, w});
    }
}

TEST_CASE("gradcheck: elementwise add, sub, mul, scale", "[gradcheck][ops]") {
    for (const Shape& s : {Shape{5}, Shape{3, 4}, Shape{2, 3, 2, 3}}) {
        Tensor a = randn(s, 6).set_name("a"), b = randn(s, 7).set_name("b");
        check([&] { return add(a, b); }, {a, b});
        check([&] { return sub(a, b); }, {a, b});
        check([&] { return mul(a, b); }, {a, b});
        check([&] { return scale(a, -2.5f); }, {a});
    }
}

TEST_CASE("gradcheck: a tensor used twice gets both contributions", "[gradcheck][ops]") {
    Tensor a = randn({3, 3}, 8).set_name("a");
    check([&] { return mul(a, a); }, {a});
    check([&] { return add(matmul(a, a), a); }, {a});
}

TEST_CASE("gradcheck: add_bias for 2-D and 4-D input", "[gradcheck][ops]") {
    for (const Shape& s : {Shape{4, 3}, Shape{1, 5}, Shape{2, 3, 4, 5}, Shape{1, 2, 1, 3}}) {
        Tensor x = randn(s, 9).set_name("x"), b = randn({s[1]}, 10).set_name("b");
        check([&] { return add_bias(x, b); }, {x, b});
    }
}

TEST_CASE("gradcheck: activations", "[gradcheck][ops]") {
    for (const Shape& s : {Shape{7}, Shape{3, 5}, Shape{2, 3, 3, 2}}) {
        Tensor x = away_from_zero(s, 11).set_name("x");
        check([&] { return relu(x); }, {x});
        check([&] { return leaky_relu(x, 0.1f); }, {x});
        check([&] { return sigmoid(x); }, {x});
        check([&] { return normgrad::tanh(x); }, {x});
    }
}

TEST_CASE("gradcheck: reshape, flatten, sum, mean", "[gradcheck][ops]") {
    Tensor x = randn({2, 3, 2, 2}, 12).set_name("x");
    check([&] { return reshape(x, Shape{6, 4}); }, {x});
    check([&] { return flatten(x); }, {x});
    check([&] { return sum(x); }, {x});
    check([&] { return mean(x); }, {x});
    Tensor v = randn({1}, 13).set_name("v");
    check([&] { return mean(v); }, {v});
}

TEST_CASE("gradcheck: conv2d over strides and paddings", "[gradcheck][ops]") {
    struct Case {
        Shape x, w;
        int stride, padding;
    };
    for (const Case& c :
         {Case{{2, 3, 5, 5}, {4, 3, 3, 3}, 1, 0}, Case{{1, 2, 6, 7}, {3, 2, 3, 3}, 1, 1},
          Case{{2, 1, 7, 5}, {2, 1, 3, 2}, 2, 1}, Case{{1, 3, 4, 4}, {2, 3, 1, 1}, 1, 0},
          Case{{3, 2, 5, 6}, {2, 2, 2, 3}, 3, 2}}) {
        Tensor x = randn(c.x, 14).set_name("x"), w = randn(c.w, 15).set_name("w");
        Tensor b = randn({c.w[0]}, 16).set_name("b");
        Conv2dParams p{c.stride, c.padding};
        check([&] { return conv2d(x, w, b, p); }, {x, w, b});
        check([&] { return conv2d(x, w, Tensor{}, p); }, {x, w});
    }
}

TEST_CASE("gradcheck: max_pool2d over kernels, strides and paddings", "[gradcheck][ops]") {
    struct Case {
        Shape x;
        Pool2dParams p;
    };
    for (const Case& c : {Case{{2, 2, 4, 4}, {2, 0, 0}}, Case{{1, 3, 5, 5}, {2, 2, 0}},
                          Case{{2, 1, 5, 7}, {3, 2, 1}}, Case{{1, 2, 6, 6}, {3, 1, 1}},
                          Case{{3, 1, 3, 3}, {3, 3, 0}}}) {
        Tensor x = distinct_values(c.x, 17).set_name("x");
        check([&] { return max_pool2d(x, c.p); }, {x});
    }
}

TEST_CASE("gradcheck: cross_entropy", "[gradcheck][ops]") {
    for (auto [N, K] : {std::pair{4, 3}, {1, 10}, {6, 2}}) {
        Tensor z = randn({N, K}, 18, 2.f).set_name("logits");
        std::vector<int32_t> labels(static_cast<size_t>(N));
        for (int n = 0; n < N; ++n) labels[size_t(n)] = (n * 7 + 1) % K;
        check([&] { return cross_entropy(z, labels); }, {z});
    }
}

TEST_CASE("gradcheck: batch_norm, training mode, with all three backward terms",
          "[gradcheck][ops][batchnorm]") {
    // Inputs with a non-zero mean and non-unit spread, so the mean and variance paths matter.
    for (const Shape& s : {Shape{5, 3}, Shape{2, 4}, Shape{3, 2, 3, 4}, Shape{1, 3, 2, 3}}) {
        Tensor x = randn(s, 19, 2.f).set_name("x");
        for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] += 1.5f;
        Tensor gamma = randn({s[1]}, 20).set_name("gamma"),
               beta = randn({s[1]}, 21).set_name("beta");
        GradCheckOptions opt;
        opt.step = 1e-3;  // normalisation is smooth but strongly curved for tiny batches
        check(
            [&] { return batch_norm(x, gamma, beta, {}, {}, {}, /*training=*/true, 0.1f, 1e-5f); },
            {x, gamma, beta}, opt);
        check(
            [&] {
                return batch_norm(x, Tensor{}, Tensor{}, {}, {}, {}, /*training=*/true, 0.1f,
                                  1e-5f);
            },
            {x}, opt);
    }
}

TEST_CASE("gradcheck: batch_norm, evaluation mode", "[gradcheck][ops][batchnorm]") {
    for (const Shape& s : {Shape{4, 3}, Shape{1, 3}, Shape{2, 3, 2, 2}}) {
        Tensor x = randn(s, 22).set_name("x");
        Tensor gamma = randn({s[1]}, 23).set_name("gamma"),
               beta = randn({s[1]}, 24).set_name("beta");
        Tensor rm = randn({s[1]}, 25), rv = Tensor::full({s[1]}, 0.7f);
        check(
            [&] { return batch_norm(x, gamma, beta, rm, rv, {}, /*training=*/false, 0.1f, 1e-5f); },
            {x, gamma, beta});
    }
}

TEST_CASE("gradcheck: a small CNN end to end", "[gradcheck][ops]") {
    Tensor x = randn({2, 1, 6, 6}, 26).set_name("x");
    Tensor w1 = randn({3, 1, 3, 3}, 27, 0.5f).set_name("w1"), b1 = randn({3}, 28).set_name("b1");
    Tensor g = randn({3}, 29).set_name("gamma"), be = randn({3}, 30).set_name("beta");
    Tensor w2 = randn({4, 27}, 31, 0.3f).set_name("w2"), b2 = randn({4}, 32).set_name("b2");
    std::vector<int32_t> labels{1, 3};
    GradCheckOptions opt;
    opt.step = 1e-3;
    opt.atol = 2e-3;
    auto f = [&] {
        Tensor h = conv2d(x, w1, b1, {1, 1});
        h = batch_norm(h, g, be, {}, {}, {}, /*training=*/true, 0.1f, 1e-5f);
        h = normgrad::tanh(h);  // smooth, so no kinks under finite differences
        h = max_pool2d(h, {2, 0, 0});
        return cross_entropy(linear(flatten(h), w2, b2), labels);
    };
    check(f, {x, w1, b1, g, be, w2, b2}, opt);
}
