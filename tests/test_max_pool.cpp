// max_pool2d's forward values and PyTorch's tie and NaN rules, on both code paths
// (the 2x2 / stride 2 fast path and the general window loop).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "normgrad/autograd.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/max_pool2d.hpp"
#include "normgrad/ops/reduce.hpp"

using namespace normgrad;

namespace {
std::vector<float> pool_grad(const Tensor& x, Pool2dParams p) {
    Tensor in = x.clone().set_requires_grad(true);
    autograd::backward(sum(max_pool2d(in, p)));
    return in.grad_vector();
}
}  // namespace

TEST_CASE("max_pool2d: values of a 4x4 input, fast and general paths", "[ops][pool]") {
    std::vector<float> v(16);
    for (int i = 0; i < 16; ++i) v[size_t(i)] = float((i * 7) % 16);  // 0 7 14 5 12 3 10 1 ...
    Tensor x = Tensor::from({1, 1, 4, 4}, v);
    // Windows of 2x2: {0,7,12,3} {14,5,10,1} {8,15,4,11} {6,13,2,9}
    CHECK(max_pool2d(x, {2, 2, 0}).to_vector() == std::vector<float>{12, 14, 15, 13});
    // 2x2 stride 1: the general path.
    CHECK(max_pool2d(x, {2, 1, 0}).to_vector() ==
          std::vector<float>{12, 14, 14, 15, 15, 13, 15, 15, 13});
    // With padding 1 the padded cells never win.
    Tensor neg = Tensor::full({1, 1, 2, 2}, -5.f);
    CHECK(max_pool2d(neg, {2, 2, 1}).to_vector() == std::vector<float>(4, -5.f));
}

TEST_CASE("max_pool2d: ties send the gradient to the first maximum in scan order", "[ops][pool]") {
    Tensor x = Tensor::full({1, 1, 2, 2}, 1.f);
    CHECK(pool_grad(x, {2, 2, 0}) == std::vector<float>{1, 0, 0, 0});
    Tensor y = Tensor::from({1, 1, 3, 3}, std::vector<float>{0, 2, 2, 0, 2, 0, 0, 0, 0});
    CHECK(pool_grad(y, {3, 1, 0}) == std::vector<float>{0, 1, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("max_pool2d: a NaN in the window propagates (the last NaN is chosen)", "[ops][pool]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (Pool2dParams p : {Pool2dParams{2, 2, 0}, Pool2dParams{2, 1, 0}}) {
        Tensor x = Tensor::from({1, 1, 2, 2}, std::vector<float>{1, nan, 3, nan});
        Tensor y = max_pool2d(x, p);
        CHECK(std::isnan(y.data()[0]));
        CHECK(pool_grad(x, p) == std::vector<float>{0, 0, 0, 1});
    }
}

namespace {
// The definition, window by window: the first maximum in row-major scan order (a NaN replaces
// it), its value, and dy sent to it.
struct Reference {
    std::vector<float> y, dx;
};
Reference reference_2x2(const std::vector<float>& x, const std::vector<float>& dy, int64_t planes,
                        int64_t H, int64_t W) {
    const int64_t OH = H / 2, OW = W / 2;
    Reference r{std::vector<float>(size_t(planes * OH * OW)),
                std::vector<float>(size_t(planes * H * W), 0.f)};
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
                int64_t best = p * H * W + 2 * oh * W + 2 * ow;
                for (int64_t i = 0; i < 2; ++i)
                    for (int64_t j = 0; j < 2; ++j) {
                        const int64_t at = p * H * W + (2 * oh + i) * W + 2 * ow + j;
                        const float v = x[size_t(at)], b = x[size_t(best)];
                        if (v > b || std::isnan(v)) best = at;
                    }
                const int64_t o = (p * OH + oh) * OW + ow;
                r.y[size_t(o)] = x[size_t(best)];
                r.dx[size_t(best)] += dy[size_t(o)];
            }
    return r;
}
}  // namespace

// The 2x2 path computes a row in blocks of 8 or 4 outputs, the last block overlapping the one
// before or computed on padded copies: every row length from 1 to 20 outputs, odd heights and
// widths, ties, NaNs, and a gradient written and then added to.
TEST_CASE("max_pool2d 2x2: every row length, against the window-by-window definition",
          "[ops][pool]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    uint64_t seed = 12345;
    auto next = [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return int64_t(seed >> 33);
    };
    for (int64_t W = 2; W <= 41; ++W)
        for (int64_t H : {2, 3, 6}) {
            INFO("H " << H << " W " << W);
            const int64_t planes = 3, OH = H / 2, OW = W / 2;
            std::vector<float> v(size_t(planes * H * W));
            for (float& e : v) {
                const int64_t k = next() % 100;  // small integers: many ties; a few NaNs
                e = k == 0 ? nan : float(k % 7) - 3.f;
            }
            std::vector<float> dy(size_t(planes * OH * OW)), dy2(dy.size());
            for (float& e : dy) e = float(next() % 1000) / 100.f;
            for (float& e : dy2) e = float(next() % 1000) / 100.f;
            const Reference want = reference_2x2(v, dy, planes, H, W);
            const Reference want2 = reference_2x2(v, dy2, planes, H, W);

            Tensor x = Tensor::from({1, planes, H, W}, v).set_requires_grad(true);
            Tensor y = max_pool2d(x, {2, 2, 0});
            const std::vector<float> got = y.to_vector();
            REQUIRE(got.size() == want.y.size());
            int64_t wrong = 0;
            for (size_t i = 0; i < got.size(); ++i)
                wrong += std::isnan(want.y[i]) ? !std::isnan(got[i]) : got[i] != want.y[i];
            CHECK(wrong == 0);
            autograd::backward(sum(mul(y, Tensor::from(y.shape(), dy))));
            CHECK(x.grad_vector() == want.dx);
            // Pooled twice: the second backward adds onto the first's.
            x.zero_grad();
            autograd::backward(
                add(sum(mul(max_pool2d(x, {2, 2, 0}), Tensor::from(y.shape(), dy))),
                    sum(mul(max_pool2d(x, {2, 2, 0}), Tensor::from(y.shape(), dy2)))));
            std::vector<float> both(want.dx.size());
            for (size_t i = 0; i < both.size(); ++i) both[i] = want.dx[i] + want2.dx[i];
            CHECK(x.grad_vector() == both);
        }
}
