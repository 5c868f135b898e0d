// avg_pool2d and global_avg_pool2d: forward values and gradients worked out by hand, finite-
// difference checks over kernels, strides, paddings and odd sizes, and the layers' argument checks.
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/gradcheck.hpp"
#include "normgrad/layers/avg_pool2d.hpp"
#include "normgrad/ops/avg_pool2d.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/reduce.hpp"

using namespace normgrad;

namespace {

// 0, 1, 2, ... in row-major order, plus `first`.
Tensor counting(const Shape& s, float first = 0.f) {
    std::vector<float> v(static_cast<size_t>(s.numel()));
    std::iota(v.begin(), v.end(), first);
    return Tensor::from(s, v);
}

// d(sum of the op's output)/dx.
template <class Op>
std::vector<float> grad_of_sum(const Tensor& x, Op op) {
    Tensor in = x.clone().set_requires_grad(true);
    autograd::backward(sum(op(in)));
    return in.grad_vector();
}

// Equal up to float rounding (a window's sum times 1 / k^2 need not be the exact quotient).
void check_close(const std::vector<float>& got, const std::vector<float>& expected) {
    REQUIRE(got.size() == expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i);
        CHECK(got[i] == Approx(expected[i]).epsilon(1e-6));
    }
}

void check_gradients(const std::function<Tensor()>& f, const Tensor& x) {
    GradCheckResult r = gradcheck(f, {x});
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.elements_checked == x.numel());
}

}  // namespace

TEST_CASE("avg_pool2d: values by hand", "[ops][avg_pool]") {
    // 0  1  2  3
    // 4  5  6  7      2x2 windows: {0,1,4,5} {2,3,6,7} {8,9,12,13} {10,11,14,15}
    // 8  9 10 11
    // 12 13 14 15
    const Tensor x = counting({1, 1, 4, 4});
    CHECK(avg_pool2d(x, {2, 2, 0}).to_vector() == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});
    CHECK(avg_pool2d(x, {2, 0, 0}).shape() == Shape({1, 1, 2, 2}));  // stride 0: the kernel

    // Overlapping windows, stride 1: [1 2 3; 4 5 6] -> {1,2,4,5} = 3, {2,3,5,6} = 4.
    CHECK(avg_pool2d(counting({1, 1, 2, 3}, 1.f), {2, 1, 0}).to_vector() ==
          std::vector<float>{3.f, 4.f});

    // Padding counts as zeros: kernel 3, stride 2, padding 1 over [1 2 3; 4 5 6; 7 8 9] gives
    // four windows of which 4 cells lie in the input and 5 in the padding, divided by 9 (not 4).
    const Tensor y = avg_pool2d(counting({1, 1, 3, 3}, 1.f), {3, 2, 1});
    REQUIRE(y.shape() == Shape({1, 1, 2, 2}));
    check_close(y.to_vector(), {12.f / 9, 16.f / 9, 24.f / 9, 28.f / 9});

    // Stride larger than the kernel, odd sizes: 1x1x5x5 with kernel 2 stride 3 takes the windows
    // at rows and columns {0, 1} and {3, 4}.
    const Tensor z = avg_pool2d(counting({1, 1, 5, 5}), {2, 3, 0});
    CHECK(z.to_vector() == std::vector<float>{3.f, 6.f, 18.f, 21.f});

    // Every plane on its own: the second channel is the first plus 16.
    const Tensor two = counting({1, 2, 4, 4});
    CHECK(avg_pool2d(two, {2, 2, 0}).to_vector() ==
          std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f, 18.5f, 20.5f, 26.5f, 28.5f});
}

TEST_CASE("avg_pool2d: gradients by hand", "[ops][avg_pool]") {
    // d(sum y)/dx[i] = (number of windows containing i) / k^2. Kernel 3, stride 2, padding 1 over
    // 3x3: the corners lie in one window, the edges' middles in two, the centre in all four.
    const auto p = [](const Tensor& t) { return avg_pool2d(t, {3, 2, 1}); };
    const std::vector<float> g = grad_of_sum(counting({1, 1, 3, 3}), p);
    const std::vector<float> expected{1.f / 9, 2.f / 9, 1.f / 9, 2.f / 9, 4.f / 9,
                                      2.f / 9, 1.f / 9, 2.f / 9, 1.f / 9};
    check_close(g, expected);

    // An odd last row and column that no 2x2 / stride 2 window covers get 0; the others 1/4.
    const std::vector<float> odd = grad_of_sum(counting({1, 1, 3, 3}), [](const Tensor& t) {
        return avg_pool2d(t, {2, 2, 0});
    });
    CHECK(odd == std::vector<float>{0.25f, 0.25f, 0.f, 0.25f, 0.25f, 0.f, 0.f, 0.f, 0.f});
}

TEST_CASE("gradcheck: avg_pool2d over kernels, strides, paddings and odd sizes",
          "[gradcheck][ops][avg_pool]") {
    struct Case {
        Shape shape;
        Pool2dParams p;
    };
    const std::vector<Case> cases{
        {{2, 3, 4, 4}, {2, 2, 0}},  // windows tile the input
        {{1, 2, 5, 5}, {3, 2, 1}},  // overlapping, padded, odd
        {{2, 1, 5, 6}, {3, 1, 1}},  // stride 1, padding on every side
        {{1, 2, 7, 5}, {2, 3, 0}},  // stride > kernel: some inputs in no window
        {{1, 1, 7, 8}, {3, 3, 1}},  // padded, H and W differ
        {{2, 2, 3, 3}, {1, 1, 0}},  // kernel 1: the identity
        {{1, 1, 4, 5}, {4, 1, 2}},  // padding = kernel / 2 with an even kernel
    };
    Rng rng(11);
    for (const Case& c : cases) {
        Tensor x = Tensor::randn(c.shape, rng).set_name("x");
        INFO("input " << c.shape.str() << " kernel " << c.p.kernel << " stride " << c.p.stride
                      << " padding " << c.p.padding);
        check_gradients([&] { return avg_pool2d(x, c.p); }, x);
        // Used twice: the second gradient is added to the first.
        check_gradients([&] { return add(avg_pool2d(x, c.p), scale(avg_pool2d(x, c.p), 2.f)); }, x);
    }
}

TEST_CASE("global_avg_pool2d: values, gradients by hand and gradcheck",
          "[gradcheck][ops][avg_pool]") {
    // Plane 0 holds 0..5 (mean 2.5), plane 1 holds 6..11 (mean 8.5).
    const Tensor x = counting({1, 2, 2, 3});
    const Tensor y = global_avg_pool2d(x);
    CHECK(y.shape() == Shape({1, 2}));
    CHECK(y.to_vector() == std::vector<float>{2.5f, 8.5f});
    CHECK(grad_of_sum(x, [](const Tensor& t) { return global_avg_pool2d(t); }) ==
          std::vector<float>(12, 1.f / 6));

    Rng rng(12);
    for (const Shape& s : {Shape{2, 3, 4, 5}, Shape{1, 1, 1, 1}, Shape{3, 2, 3, 1}}) {
        Tensor t = Tensor::randn(s, rng).set_name("x");
        INFO("input " << s.str());
        check_gradients([&] { return global_avg_pool2d(t); }, t);
        check_gradients([&] { return add(global_avg_pool2d(t), global_avg_pool2d(t)); }, t);
    }
}

TEST_CASE("avg_pool2d and its layers reject what they cannot pool", "[ops][avg_pool][layers]") {
    CHECK_THROWS_AS(avg_pool2d(Tensor::zeros({2, 4, 4}), {2, 2, 0}), ShapeError);
    CHECK_THROWS_AS(avg_pool2d(Tensor::zeros({1, 1, 4, 4}), {2, 2, 2}), ShapeError);  // pad > k/2
    CHECK_THROWS_AS(avg_pool2d(Tensor::zeros({1, 1, 2, 2}), {5, 1, 1}), ShapeError);  // too big
    CHECK_THROWS_AS(global_avg_pool2d(Tensor::zeros({2, 4})), ShapeError);
    CHECK_THROWS_AS(global_avg_pool2d(Tensor::zeros({2, 3, 0, 4})), ShapeError);

    CHECK_THROWS_AS(AvgPool2d(0), std::invalid_argument);
    CHECK_THROWS_AS(AvgPool2d(2, -1), std::invalid_argument);
    CHECK_THROWS_AS(AvgPool2d(3, 1, 2), std::invalid_argument);
    CHECK_THROWS_WITH(AvgPool2d(2, 1, 5), Catch::Contains("padding 5"));

    AvgPool2d pool(3);  // stride 0: the kernel
    CHECK(pool.describe() == "AvgPool2d(3x3, stride 3, padding 0)");
    check_close(pool(counting({1, 1, 3, 3})).to_vector(), {4.f});
    GlobalAvgPool2d global;
    CHECK(global(counting({2, 1, 2, 2})).to_vector() == std::vector<float>{1.5f, 5.5f});
}
