// The fast batch_norm operation (src/ops/batch_norm.cpp and its kernels) against the plain
// reference in loops (src/ops/batch_norm_reference.cpp): the output, the three gradients (dx,
// dgamma, dbeta), the batch statistics and the running statistics, over several training steps
// and then in evaluation, for 2-D and 4-D shapes (odd sizes, one image, 1x1 maps, one large
// enough for the threaded passes), with and without gamma/beta, with and without running
// statistics, and momentum 0.1, none (cumulative average), 0 and 1; at one and two threads.
//
// Tolerance: 1e-5, relative above 1 and absolute below (see kTolerance). The reference computes
// in double; the fast operation in float with double accumulators.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/batch_norm_reference.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/parallel.hpp"

using namespace normgrad;
using Catch::Matchers::Contains;

namespace {

// |fast - reference| <= kTolerance * max(1, |reference|) for every value, except dx, which is
// compared relative to the size of its three terms (see expect_dx_close). The largest deviation
// measured over every case below, at one and two threads, is 0.08 of this tolerance with g++ -O3
// (the Release build) and 0.17 with clang++ -O2 (the sanitizer build); 1e-5 is also the tolerance
// of the PyTorch fixtures.
constexpr double kTolerance = 1e-5;

struct Threads {
    explicit Threads(int n) { set_num_threads(n); }
    ~Threads() { set_num_threads(1); }
};

void expect_close(const std::string& what, const std::vector<float>& fast,
                  const std::vector<float>& reference) {
    const auto r = normgrad::testing::compare_close(fast, reference, kTolerance);
    INFO(what << ": " << r.report);
    CHECK(r.ok);
}

// dx_j = (gamma / s) [ g_j - (1/m) sum_i g_i - xhat_j (1/m) sum_i g_i xhat_i ] is a difference of
// three terms that can be much larger than itself (with two values per channel it is 0 up to
// eps), and float rounding is relative to the size of those terms. So dx is compared to
// kTolerance * max(1, |dx_j|, size of the terms_j), each term's size taken from the reference.
void expect_dx_close(const std::vector<float>& fast, const reference::BatchNormGrads& grads,
                     const reference::BatchNormForward& ref, const std::vector<float>& dy,
                     const std::vector<float>& x, int64_t N, int64_t C, int64_t S,
                     const std::vector<float>& gamma) {
    REQUIRE(fast.size() == grads.dx.size());
    const auto m = double(N * S);
    size_t bad = 0, worst = 0;
    double worst_excess = 0.0;
    for (int64_t c = 0; c < C; ++c) {
        const double k1 =
            (gamma.empty() ? 1.0 : std::abs(gamma[size_t(c)])) * ref.invstd[size_t(c)];
        double mean_g = 0.0, mean_gxhat = 0.0;  // (1/m) sum_i g_i and (1/m) sum_i g_i xhat_i
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                const size_t i = size_t((n * C + c) * S + s);
                const double xhat = (x[i] - ref.mean[size_t(c)]) * ref.invstd[size_t(c)];
                mean_g += dy[i] / m, mean_gxhat += dy[i] * xhat / m;
            }
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                const size_t i = size_t((n * C + c) * S + s);
                const double xhat = (x[i] - ref.mean[size_t(c)]) * ref.invstd[size_t(c)];
                double terms = std::abs(dy[i]);
                if (ref.batch_statistics) terms += std::abs(mean_g) + std::abs(xhat * mean_gxhat);
                const double expected = grads.dx[i];
                const double bound = kTolerance * std::max({1.0, std::abs(expected), k1 * terms});
                const double excess = std::abs(double(fast[i]) - expected) / bound;
                if (excess > 1.0) ++bad;
                if (excess > worst_excess) worst_excess = excess, worst = i;
            }
    }
    INFO("dx: " << bad << " of " << fast.size() << " elements differ; worst at flat index " << worst
                << ": " << fast[worst] << " against " << grads.dx[worst] << ", " << worst_excess
                << " times the tolerance");
    CHECK(bad == 0);
}

std::vector<float> to_float(const std::vector<double>& v) {
    return {v.begin(), v.end()};
}

// Values with a per-channel shift and scale, so that the mean and variance paths matter.
// A channel whose values come out almost equal (possible when it has only a few) is drawn again:
// float32 normalisation of such a channel loses about |mean| / spread of its digits in any
// implementation (PyTorch's too), and this test is about the maths, not about that.
std::vector<float> channel_values(const Shape& s, Rng& rng) {
    const int64_t N = s[0], C = s[1], S = s.numel() / (N * C);
    std::vector<float> v(size_t(s.numel()));
    for (int64_t c = 0; c < C; ++c) {
        const double shift = rng.uniform(-3.0, 3.0), scale = rng.uniform(0.3, 3.0);
        double spread = 0.0;
        while (spread < 0.2 * scale) {
            double sum = 0.0, squares = 0.0;
            for (int64_t n = 0; n < N; ++n)
                for (int64_t i = 0; i < S; ++i) {
                    const double z = rng.normal();
                    v[size_t((n * C + c) * S + i)] = float(shift + scale * z);
                    sum += z, squares += z * z;
                }
            const double m = double(N * S), mean = sum / m;
            spread = m == 1 ? scale : scale * std::sqrt(squares / m - mean * mean);
        }
    }
    return v;
}

std::vector<float> normal_values(int64_t n, Rng& rng, float mean = 0.f, float std = 1.f) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& e : v) e = float(mean + std * rng.normal());
    return v;
}

// dy with standard deviation 1/sqrt(m), so that dgamma and dbeta, sums of m terms, are of order 1
// for every shape (as the tolerance is absolute below 1, it then means the same for all).
std::vector<float> upstream_grad(const Shape& s, Rng& rng) {
    const double m = double(s.numel() / s[1]);
    return normal_values(s.numel(), rng, 0.f, float(1.0 / std::sqrt(m)));
}

struct Case {
    Shape shape;
    bool affine;
    bool tracked;  // running statistics
    std::optional<float> momentum;
};

std::string describe(const Case& c) {
    return c.shape.str() + (c.affine ? " affine" : " no affine") +
           (!c.tracked   ? ", no running stats"
            : c.momentum ? ", momentum " + std::to_string(*c.momentum)
                         : ", momentum none");
}

// The BatchNorm state of both implementations, side by side.
struct Both {
    Tensor gamma, beta, running_mean, running_var, num_batches_tracked;  // the operation's
    std::vector<float> gamma_v, beta_v;                                  // the reference's
    reference::RunningStats running;

    Both(const Case& c, Rng& rng) {
        const int64_t C = c.shape[1];
        if (c.affine) {
            gamma_v = normal_values(C, rng, 1.f, 0.5f);
            beta_v = normal_values(C, rng, 0.f, 0.5f);
            gamma = Tensor::from({C}, gamma_v).set_requires_grad();
            beta = Tensor::from({C}, beta_v).set_requires_grad();
        }
        if (c.tracked) {
            // Not PyTorch's initial 0 and 1, so that evaluation before any training step is not
            // a plain standardisation.
            running.mean = normal_values(C, rng);
            running.var = normal_values(C, rng, 1.5f, 0.4f);
            running_mean = Tensor::from({C}, running.mean);
            running_var = Tensor::from({C}, running.var);
            num_batches_tracked = Tensor::zeros({});
        }
    }

    // One forward and backward pass of both on x with upstream gradient dy; compares everything.
    void step(const Case& c, const Shape& shape, bool training, const std::vector<float>& x_v,
              const std::vector<float>& dy_v) {
        const int64_t N = shape[0], C = shape[1], S = shape.numel() / (N * C);
        Tensor x = Tensor::from(shape, x_v).set_requires_grad();
        if (c.affine) gamma.zero_grad(), beta.zero_grad();
        BatchStats stats;
        Tensor y = batch_norm(x, gamma, beta, running_mean, running_var, num_batches_tracked,
                              training, c.momentum, 1e-5f, &stats);
        autograd::backward(sum(mul(y, Tensor::from(shape, dy_v))));

        const auto ref = reference::batch_norm_forward(x_v, N, C, S, gamma_v, beta_v,
                                                       c.tracked ? &running : nullptr, training,
                                                       c.momentum, 1e-5f);
        const auto grads = reference::batch_norm_backward(dy_v, x_v, N, C, S, gamma_v, ref);

        expect_close("y", y.to_vector(), ref.y);
        expect_dx_close(x.grad_vector(), grads, ref, dy_v, x_v, N, C, S, gamma_v);
        if (c.affine) {
            expect_close("dgamma", gamma.grad_vector(), grads.dgamma);
            expect_close("dbeta", beta.grad_vector(), grads.dbeta);
        }
        if (ref.batch_statistics) {
            CHECK(stats.count == N * S);
            expect_close("batch mean", stats.mean, to_float(ref.mean));
            expect_close("batch variance", stats.var, to_float(ref.var));
        }
        if (c.tracked) {
            expect_close("running_mean", running_mean.to_vector(), running.mean);
            expect_close("running_var", running_var.to_vector(), running.var);
            CHECK(num_batches_tracked.item() == running.num_batches_tracked);
        }
    }
};

void run_case(const Case& c, uint64_t seed) {
    Rng rng(seed);
    Both both(c, rng);
    for (int t = 0; t < 3; ++t) {
        INFO("training step " << t + 1);
        both.step(c, c.shape, true, channel_values(c.shape, rng), upstream_grad(c.shape, rng));
    }
    const auto trained_mean = c.tracked ? both.running_mean.to_vector() : std::vector<float>{};
    // Evaluation, on a batch like the training ones and on a single example.
    std::vector<int64_t> dims = c.shape.dims();
    dims[0] = 1;
    const Shape one(dims);
    for (const Shape& s : {c.shape, one}) {
        INFO("evaluation on " << s.str());
        const int64_t m = s.numel() / s[1];
        if (!c.tracked && m == 1) {  // batch statistics of one value: both refuse
            const auto x = channel_values(s, rng);
            CHECK_THROWS_WITH(batch_norm(Tensor::from(s, x), both.gamma, both.beta, {}, {}, {},
                                         false, c.momentum, 1e-5f),
                              Contains("more than 1 value per channel"));
            CHECK_THROWS_AS(reference::batch_norm_forward(x, 1, s[1], 1, both.gamma_v, both.beta_v,
                                                          nullptr, false, c.momentum, 1e-5f),
                            std::invalid_argument);
            continue;
        }
        both.step(c, s, false, channel_values(s, rng), upstream_grad(s, rng));
    }
    if (c.tracked) {  // evaluation left the running statistics as training left them
        CHECK(both.running_mean.to_vector() == trained_mean);
        CHECK(both.num_batches_tracked.item() == 3.f);
    }
}

}  // namespace

TEST_CASE("batch_norm matches the plain reference step by step, in training and evaluation",
          "[batchnorm][reference]") {
    const Shape shapes[] = {
        {8, 3},          // BatchNorm1d
        {5, 7},          // odd sizes
        {2, 4},          // two values per feature
        {3, 2, 4, 5},    // BatchNorm2d
        {2, 5, 3, 7},    // odd sizes
        {1, 3, 5, 7},    // one image: m = H*W
        {6, 3, 1, 1},    // 1x1 feature maps
        {16, 8, 16, 16}  // large enough for the threaded passes
    };
    const std::optional<float> momenta[] = {0.1f, std::nullopt, 0.f, 1.f};
    for (const int threads : {1, 2}) {
        Threads th(threads);
        uint64_t seed = 100;
        for (const Shape& shape : shapes)
            for (const bool affine : {true, false}) {
                std::vector<Case> cases;
                for (const auto& momentum : momenta)
                    cases.push_back({shape, affine, true, momentum});
                cases.push_back({shape, affine, false, 0.1f});
                for (const Case& c : cases) {
                    INFO(describe(c) << ", " << threads << " thread(s)");
                    run_case(c, ++seed);
                }
            }
    }
    autograd::release_tape();
}

TEST_CASE("batch_norm refuses what it cannot compute", "[batchnorm]") {
    const Tensor x = Tensor::ones({4, 3}), rm = Tensor::zeros({3}), rv = Tensor::ones({3});
    // One value per channel in training, in the operation and in the reference.
    CHECK_THROWS_WITH(batch_norm(Tensor::ones({1, 3}), {}, {}, rm, rv, {}, true, 0.1f, 1e-5f),
                      Contains("more than 1 value per channel"));
    reference::RunningStats running{{0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}, 0.f};
    CHECK_THROWS_AS(reference::batch_norm_forward({1.f, 2.f, 3.f}, 1, 3, 1, {}, {}, &running, true,
                                                  0.1f, 1e-5f),
                    std::invalid_argument);
    // A cumulative average needs to count the batches.
    CHECK_THROWS_WITH(batch_norm(x, {}, {}, rm, rv, {}, true, std::nullopt, 1e-5f),
                      Contains("num_batches_tracked"));
    CHECK(rm.to_vector() == std::vector<float>(3, 0.f));  // and nothing was updated
    // Both running statistics or neither, each [C].
    CHECK_THROWS_WITH(batch_norm(x, {}, {}, rm, {}, {}, false, 0.1f, 1e-5f),
                      Contains("both given or both undefined"));
    CHECK_THROWS_WITH(batch_norm(x, {}, {}, Tensor::zeros({4}), rv, {}, false, 0.1f, 1e-5f),
                      Contains("running_mean must have shape [3]"));
    CHECK_THROWS_WITH(batch_norm(x, Tensor::ones({2}), {}, {}, {}, {}, true, 0.1f, 1e-5f),
                      Contains("gamma has shape [2]"));
    // PyTorch's momentum is the new batch's weight, in [0, 1] (Keras' 0.99 would be 0.01 here).
    CHECK_THROWS_WITH(batch_norm(x, {}, {}, rm, rv, {}, true, 1.5f, 1e-5f),
                      Contains("momentum must lie in [0, 1]"));
    CHECK_THROWS_WITH(batch_norm(x, {}, {}, rm, rv, {}, true, 0.1f, 0.f),
                      Contains("eps must be positive"));
    CHECK(rm.to_vector() == std::vector<float>(3, 0.f));
}
