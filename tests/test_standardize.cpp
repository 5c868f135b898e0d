// The standardize operation (src/ops/standardize.cpp): its gradient by finite differences, its
// values and gradients against the same maths composed of mean, var and rsqrt
// (tests/composed_norms.hpp), independence of the thread count, and its errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "check_close.hpp"
#include "composed_norms.hpp"
#include "fixture.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/gradcheck.hpp"
#include "normgrad/ops/elementwise.hpp"
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
    Shape shape;
    int dims;
};

// Rows of 1 value (y = 0, dx = 0), short rows, the last 1, 2 and 3 axes of 2-D to 4-D input, and
// rows long enough to be split between threads (kernels::min_parallel_elements(); the same-bits
// test below also has a case above the threshold used when threads sleep).
const std::vector<Case> kCases = {
    {{4, 1}, 1}, {{3, 5}, 1},       {{2, 3, 4}, 2},       {{2, 3, 4}, 1},  {{2, 3, 2, 3}, 3},
    {{5}, 1},    {{2, 4, 3, 3}, 1}, {{64, 2, 17, 17}, 3}, {{300, 301}, 1},
};

// Every element within tol times the largest magnitude of `want` (the tensor's scale).
void check_scaled(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what, double tol) {
    REQUIRE(got.size() == want.size());
    double scale = 0, worst = 0;
    for (float v : want) scale = std::max(scale, double(std::abs(v)));
    for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, double(std::abs(got[i] - want[i])));
    INFO(what << ": worst difference " << worst << ", " << worst / scale << " of the scale "
              << scale << " (at most " << tol << ")");
    CHECK(worst <= tol * scale);
}

// dL/dx of L = sum(r * standardize(x) + q * x) by the formula of src/ops/standardize.cpp, in
// double from x's float values.
std::vector<float> reference_dx(const Tensor& x, const Tensor& r, const Tensor& q, int dims,
                                float eps) {
    int64_t K = 1;
    for (int i = x.rank() - dims; i < x.rank(); ++i) K *= x.dim(i);
    const std::vector<float> xs = x.to_vector(), rs = r.to_vector(), qs = q.to_vector();
    std::vector<float> dx(xs.size());
    for (size_t row = 0; row * size_t(K) < xs.size(); ++row) {
        const size_t o = row * size_t(K);
        double mu = 0, var = 0, sg = 0, sgy = 0;
        for (int64_t k = 0; k < K; ++k) mu += xs[o + size_t(k)];
        mu /= double(K);
        for (int64_t k = 0; k < K; ++k) var += (xs[o + size_t(k)] - mu) * (xs[o + size_t(k)] - mu);
        const double s = std::sqrt(var / double(K) + double(eps));
        for (int64_t k = 0; k < K; ++k) {
            sg += rs[o + size_t(k)];
            sgy += rs[o + size_t(k)] * (xs[o + size_t(k)] - mu) / s;
        }
        for (int64_t k = 0; k < K; ++k) {
            const double y = (xs[o + size_t(k)] - mu) / s;
            dx[o + size_t(k)] = static_cast<float>(
                (rs[o + size_t(k)] - sg / double(K) - y * sgy / double(K)) / s + qs[o + size_t(k)]);
        }
    }
    return dx;
}

}  // namespace

TEST_CASE("gradcheck: standardize over the last 1 to 3 axes", "[gradcheck][ops]") {
    for (const Case& c : {Case{{3, 5}, 1}, Case{{2, 3, 4}, 2}, Case{{2, 3, 4}, 1},
                          Case{{2, 2, 2, 3}, 3}, Case{{6}, 1}, Case{{2, 4, 3}, 1}}) {
        INFO(c.shape.str() << " dims " << c.dims);
        // A mean away from 0 and a spread away from 1, so that the mean and variance paths
        // (terms 2 and 3 of the backward) both matter.
        Tensor x = randn(c.shape, 7, 1.5f, 2.f).set_name("x");
        GradCheckOptions opt;
        opt.step = 1e-3;  // strongly curved for short rows, like batch_norm's check
        for (float eps : {1e-5f, 0.5f}) {
            INFO("eps " << eps);
            const GradCheckResult r =
                gradcheck([&] { return standardize(x, c.dims, eps); }, {x}, opt);
            INFO(r.report);
            CHECK(r.ok);
            CHECK(r.elements_checked == x.numel());
        }
    }
}

TEST_CASE("standardize equals the composed mean, var, rsqrt form, forward and backward",
          "[ops][norms]") {
    for (const Case& c : kCases) {
        // eps of the order of the variance of the small-spread inputs, so where it goes shows.
        for (auto [spread, eps] : {std::pair{2.f, 1e-5f}, std::pair{0.003f, 1e-5f}}) {
            INFO(c.shape.str() << " dims " << c.dims << " spread " << spread << " eps " << eps);
            const Tensor x0 = randn(c.shape, 3, 0.7f, spread);
            const Tensor r = randn(c.shape, 4), q = randn(c.shape, 5);
            Tensor xa = x0.clone().set_requires_grad(true), xb = x0.clone().set_requires_grad(true);
            // x also reaches the loss through mul(x, q): its gradient is written by one record and
            // added by the other (the accumulate path), in either order of the tape.
            const Tensor fast = standardize(xa, c.dims, eps);
            autograd::backward(sum(add(mul(fast, r), mul(xa, q))));
            const Tensor slow = composed::standardize(xb, c.dims, eps);
            autograd::backward(sum(add(mul(slow, r), mul(xb, q))));
            check_close(fast.to_vector(), slow.to_vector(), "y", 1e-5);
            const std::vector<float> want = reference_dx(x0, r, q, c.dims, eps);
            // y is stored in float: with a spread of 0.003 around 0.7, x - mean keeps only about
            // 1e-5 of its relative precision (the mean rounded to float), and dx subtracts terms
            // of the size of g / s. Measured: both forms within 3.5e-6 of the scale there, within
            // 1.3e-7 with a spread of 2.
            const double tol = spread < 1.f ? 3e-5 : 1e-6;
            check_scaled(xa.grad_vector(), want, "dx against the double-precision formula", tol);
            // (The composed form's rows of one value: its mean and sub leave a rounding error,
            // which rsqrt(eps) multiplies by 316: 5e-6 of the scale.)
            check_scaled(xb.grad_vector(), want, "composed dx against the formula",
                         std::max(tol, 1e-5));

            // The input used first elsewhere, standardize's gradient added last.
            Tensor xc = x0.clone().set_requires_grad(true);
            const Tensor other = mul(xc, q);
            autograd::backward(sum(add(other, mul(standardize(xc, c.dims, eps), r))));
            check_close(xc.grad_vector(), xa.grad_vector(), "dx, standardize's part added", 1e-6);
        }
    }
}

TEST_CASE("standardize gives the same bits at 1 and 2 threads", "[ops][norms]") {
    for (const Case& c : {Case{{64, 2, 17, 17}, 3}, Case{{300, 301}, 1}, Case{{3, 90000}, 1}}) {
        INFO(c.shape.str());
        check_same_bits_at_1_and_2_threads([&] {
            Tensor x = randn(c.shape, 8, 0.5f, 3.f).set_requires_grad(true);
            const Tensor out = standardize(x, c.dims, 1e-5f);
            autograd::backward(sum(mul(out, randn(c.shape, 9))));
            return NamedOutputs{{"y", out.to_vector()}, {"dx", x.grad_vector()}};
        });
    }
}

TEST_CASE("standardize: each row has mean 0 and variance 1 / (1 + eps / var)", "[ops][norms]") {
    const Tensor x = randn({4, 50}, 10, -3.f, 0.1f);
    const float eps = 0.01f;  // the variance is 0.01: y's variance is about 1/2
    const Tensor y = standardize(x, 1, eps);
    const std::vector<float> xs = x.to_vector(), ys = y.to_vector();
    for (int r = 0; r < 4; ++r) {
        double mx = 0, my = 0;
        for (int d = 0; d < 50; ++d) mx += xs[size_t(r * 50 + d)], my += ys[size_t(r * 50 + d)];
        mx /= 50, my /= 50;
        double vx = 0, vy = 0;
        for (int d = 0; d < 50; ++d) {
            vx += std::pow(xs[size_t(r * 50 + d)] - mx, 2);
            vy += std::pow(ys[size_t(r * 50 + d)] - my, 2);
        }
        vx /= 50, vy /= 50;
        CHECK(std::abs(my) < 1e-5);
        CHECK(vy == Approx(vx / (vx + eps)).epsilon(1e-4));
    }
}

TEST_CASE("standardize: wrong dims, eps and empty rows are clear errors", "[ops][norms]") {
    const Tensor x = Tensor::zeros({2, 3});
    CHECK_THROWS_WITH(standardize(x, 0, 1e-5f),
                      "standardize: dims must be 1 to the rank of the input [2, 3], got 0");
    CHECK_THROWS_WITH(standardize(x, 3, 1e-5f),
                      "standardize: dims must be 1 to the rank of the input [2, 3], got 3");
    CHECK_THROWS_WITH(standardize(x, 1, -1.f),
                      "standardize: eps must be finite and at least 0, got -1");
    CHECK_THROWS_WITH(standardize(x, 1, std::numeric_limits<float>::quiet_NaN()),
                      "standardize: eps must be finite and at least 0, got nan");
    CHECK_THROWS_WITH(standardize(Tensor::zeros({2, 0}), 1, 1e-5f),
                      "standardize: the last 1 axes of [2, 0] hold no elements");
    // No rows at all is fine: nothing to standardise.
    CHECK(standardize(Tensor::zeros({0, 3}), 1, 1e-5f).numel() == 0);
}
