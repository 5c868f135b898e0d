// multiply_add (src/ops/multiply_add.cpp): its gradient by finite differences, its values and
// gradients against add(mul(x, w), b), independence of the thread count, and the shapes it
// leaves to add and mul.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "check_close.hpp"
#include "fixture.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/gradcheck.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "normgrad/ops/multiply_add.hpp"
#include "normgrad/ops/reduce.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/random.hpp"
#include "same_bits.hpp"

using namespace normgrad;
using normgrad::testing::check_close;
using normgrad::testing::check_same_bits_at_1_and_2_threads;
using normgrad::testing::NamedOutputs;

namespace {

Tensor random_tensor(const Shape& s, uint64_t seed, float mean = 0.f) {
    Rng rng(seed);
    return Tensor::randn(s, rng, mean, 1.f);
}

struct AffineCase {
    Shape x, w;  // b has w's shape
};

// LayerNorm's weight over the last axes (rows of Q values, R = 1), GroupNorm's per-channel
// [C, 1, 1] (rows of R values), a weight over a middle block, one value for everything, and
// sizes that the threads share (kernels::min_parallel_elements()).
const std::vector<AffineCase> kFused = {
    {{3, 4}, {4}}, {{2, 3, 4}, {3, 4}}, {{2, 4, 3, 3}, {4, 1, 1}},  {{2, 3, 4, 5}, {3, 4, 1}},
    {{5}, {1}},    {{2, 3}, {1, 1}},    {{64, 8, 9, 9}, {8, 1, 1}}, {{40, 16, 8, 8}, {16, 8, 8}},
};

}  // namespace

TEST_CASE("gradcheck: multiply_add, x * w + b with the broadcasts of the norm layers",
          "[gradcheck][ops]") {
    for (const AffineCase& c : kFused) {
        if (c.x.numel() > 2000) continue;  // the finite differences of the small cases suffice
        INFO(c.x.str() << " with " << c.w.str());
        Tensor x = random_tensor(c.x, 1).set_name("x");
        Tensor w = random_tensor(c.w, 2, 1.f).set_name("w");
        Tensor b = random_tensor(c.w, 3).set_name("b");
        const GradCheckResult r = gradcheck([&] { return multiply_add(x, w, b); }, {x, w, b});
        INFO(r.report);
        CHECK(r.ok);
        CHECK(r.elements_checked == x.numel() + 2 * w.numel());
    }
}

TEST_CASE("multiply_add is add(mul(x, w), b) in one record, forward and backward", "[ops]") {
    for (const AffineCase& c : kFused) {
        INFO(c.x.str() << " with " << c.w.str());
        const Tensor x0 = random_tensor(c.x, 4), w0 = random_tensor(c.w, 5, 1.f),
                     b0 = random_tensor(c.w, 6), r = random_tensor(c.x, 7);
        auto leaf = [](const Tensor& t) { return t.clone().set_requires_grad(true); };
        Tensor xa = leaf(x0), wa = leaf(w0), ba = leaf(b0);
        Tensor xb = leaf(x0), wb = leaf(w0), bb = leaf(b0);
        // x also reaches the loss through mul(x, r): its gradient is added to (accumulate path).
        const Tensor fast = multiply_add(xa, wa, ba);
        autograd::backward(sum(add(mul(fast, r), mul(xa, r))));
        const Tensor slow = add(mul(xb, wb), bb);
        autograd::backward(sum(add(mul(slow, r), mul(xb, r))));
        check_close(fast.to_vector(), slow.to_vector(), "y", 1e-6);
        check_close(xa.grad_vector(), xb.grad_vector(), "dx", 1e-6);
        check_close(wa.grad_vector(), wb.grad_vector(), "dw", 1e-5);
        check_close(ba.grad_vector(), bb.grad_vector(), "db", 1e-5);
    }
}

TEST_CASE("multiply_add records one operation where it fuses, add and mul elsewhere", "[ops]") {
    const auto records = [](const Shape& xs, const Shape& ws, const Shape& bs) {
        autograd::release_tape();
        Tensor x = Tensor::ones(xs).set_requires_grad(true);
        multiply_add(x, Tensor::ones(ws), Tensor::zeros(bs));
        const size_t n = autograd::tape_size();
        autograd::release_tape();
        return n;
    };
    CHECK(records({2, 4, 3, 3}, {4, 1, 1}, {4, 1, 1}) == 1);
    // w and b of different shapes, and a w that is not one block of x's axes: add and mul.
    CHECK(records({2, 4, 3, 3}, {4, 1, 1}, {1}) == 2);
    CHECK(records({2, 4, 3}, {2, 1, 3}, {2, 1, 3}) == 2);
    // Their errors too.
    CHECK_THROWS_WITH(multiply_add(Tensor::ones({2, 3}), Tensor::ones({4}), Tensor::ones({4})),
                      Catch::Matchers::Contains("mul"));
}

TEST_CASE("multiply_add gives the same bits at 1 and 2 threads", "[ops]") {
    for (const AffineCase& c :
         {AffineCase{{64, 8, 9, 9}, {8, 1, 1}}, AffineCase{{40, 16, 8, 8}, {16, 8, 8}},
          AffineCase{{72, 16, 16, 16}, {16, 1, 1}}}) {  // the last above the sleeping threshold
        INFO(c.x.str());
        check_same_bits_at_1_and_2_threads([&] {
            Tensor x = random_tensor(c.x, 8).set_requires_grad(true);
            Tensor w = random_tensor(c.w, 9).set_requires_grad(true);
            Tensor b = random_tensor(c.w, 10).set_requires_grad(true);
            const Tensor out = multiply_add(x, w, b);
            autograd::backward(sum(mul(out, random_tensor(c.x, 11))));
            return NamedOutputs{{"y", out.to_vector()},
                                {"dx", x.grad_vector()},
                                {"dw", w.grad_vector()},
                                {"db", b.grad_vector()}};
        });
    }
}
