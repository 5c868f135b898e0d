// max_pool2d's forward values and PyTorch's tie and NaN rules, on both code paths
// (the 2x2 / stride 2 fast path and the general window loop).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "normgrad/autograd.hpp"
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
