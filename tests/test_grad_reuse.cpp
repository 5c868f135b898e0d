// An elementwise backward writes its input's gradient over its output's (grad_buffer_over,
// autograd::output_grad_reusable): where that may happen, what it must leave alone, and that the
// numbers are the ones a fresh buffer gives. Output gradient hooks see the output's gradient
// before it is overwritten.
#include <catch2/catch.hpp>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"
#include "random_tensors.hpp"

using namespace normgrad;
using normgrad::testing::randn;

namespace {

// L = sum(r * y) for a fixed r: y's gradient is r.
Tensor weighted_sum(const Tensor& y, const Tensor& r) {
    return sum(mul(y, r));
}

// run(retain) takes one step and returns its gradients, with every intermediate gradient
// retained when `retain` (so each backward writes into a fresh buffer) or not (so each may write
// over its output's). Both must give the same bits.
template <class Run>
void check_same_bits_either_way(const Run& run) {
    const std::vector<std::vector<float>> fresh = run(true), reused = run(false);
    REQUIRE(fresh.size() == reused.size());
    for (size_t i = 0; i < fresh.size(); ++i) {
        INFO("gradient " << i);
        CHECK(fresh[i] == reused[i]);
    }
}

// The gradient buffer of `t`'s output at the moment its record starts its backward.
struct OutputGradSeen {
    const float* buffer = nullptr;
    std::vector<float> values;
};

}  // namespace

TEST_CASE("grad reuse: ReLU writes dx over dy, and an output gradient hook sees dy first",
          "[autograd][grad_reuse]") {
    const Tensor x = randn({4, 37}, 1).set_requires_grad();
    const Tensor r = randn({4, 37}, 2);
    Tensor h = scale(x, 2.f);  // not a leaf: its gradient is freed after its own backward
    h.retain_grad();           // (kept here, to look at it afterwards)
    Tensor y = relu(h);
    OutputGradSeen seen;
    const HookHandle hook = autograd::add_output_grad_hook([&](const autograd::TapeRecord& rec) {
        if (!rec.output.same_as(y)) return;
        seen.buffer = rec.output.grad();
        seen.values = rec.output.grad_vector();
    });
    autograd::backward(weighted_sum(y, r));

    // The hook saw dy = r, before the backward wrote dx over it.
    CHECK(seen.values == r.to_vector());
    // h took over y's buffer: dh = r where h > 0, else 0.
    REQUIRE(h.has_grad());
    CHECK(h.grad() == seen.buffer);
    const std::vector<float> hv = h.to_vector(), rv = r.to_vector(), dh = h.grad_vector();
    for (size_t i = 0; i < hv.size(); ++i) CHECK(dh[i] == (hv[i] > 0.f ? rv[i] : 0.f));
    const std::vector<float> dx = x.grad_vector();
    for (size_t i = 0; i < dx.size(); ++i) CHECK(dx[i] == 2.f * dh[i]);
}

TEST_CASE("grad reuse: a retained output gradient is not overwritten", "[autograd][grad_reuse]") {
    const Tensor x = randn({3, 50}, 3).set_requires_grad();
    const Tensor r = randn({3, 50}, 4);
    Tensor h = scale(x, -1.5f);
    h.retain_grad();
    Tensor y = relu(h);
    y.retain_grad();
    autograd::backward(weighted_sum(y, r));
    REQUIRE(y.has_grad());
    CHECK(y.grad_vector() == r.to_vector());  // still dy
    CHECK(h.grad() != y.grad());              // dh has a buffer of its own
    const std::vector<float> hv = h.to_vector(), rv = r.to_vector(), dh = h.grad_vector();
    for (size_t i = 0; i < hv.size(); ++i) CHECK(dh[i] == (hv[i] > 0.f ? rv[i] : 0.f));
}

TEST_CASE("grad reuse: a product's second input reads dy before the first writes over it",
          "[autograd][grad_reuse]") {
    const Tensor p = randn({2, 3, 5, 5}, 5).set_requires_grad();
    const Tensor q = randn({2, 3, 5, 5}, 6).set_requires_grad();
    const Tensor r = randn({2, 3, 5, 5}, 7);
    Tensor a = scale(p, 1.f), b = scale(q, 1.f);  // non-leaf inputs, as inside a model
    a.retain_grad();
    b.retain_grad();
    autograd::backward(weighted_sum(mul(a, b), r));
    const std::vector<float> av = a.to_vector(), bv = b.to_vector(), rv = r.to_vector();
    const std::vector<float> da = a.grad_vector(), db = b.grad_vector();
    for (size_t i = 0; i < rv.size(); ++i) {
        CHECK(da[i] == rv[i] * bv[i]);
        CHECK(db[i] == rv[i] * av[i]);
    }

    SECTION("and a tensor used twice gets both parts") {
        const Tensor z = randn({40}, 8).set_requires_grad();
        const Tensor s = randn({40}, 9);
        Tensor c = scale(z, 1.f);
        c.retain_grad();
        autograd::backward(weighted_sum(mul(c, c), s));
        const std::vector<float> cv = c.to_vector(), sv = s.to_vector(), dc = c.grad_vector();
        for (size_t i = 0; i < sv.size(); ++i) CHECK(dc[i] == sv[i] * cv[i] + sv[i] * cv[i]);
    }
}

TEST_CASE("grad reuse: add's first input takes over dy as it is, the second gets its own",
          "[autograd][grad_reuse]") {
    const Tensor p = randn({3, 4, 7}, 14).set_requires_grad();
    const Tensor q = randn({3, 4, 7}, 15).set_requires_grad();
    const Tensor r = randn({3, 4, 7}, 16);
    for (const bool subtract : {false, true}) {
        INFO((subtract ? "sub" : "add"));
        Tensor a = scale(p, 1.f), b = scale(q, 1.f);
        a.retain_grad();
        b.retain_grad();
        Tensor y = subtract ? sub(a, b) : add(a, b);
        OutputGradSeen seen;
        const HookHandle hook =
            autograd::add_output_grad_hook([&](const autograd::TapeRecord& rec) {
                if (rec.output.same_as(y)) seen.buffer = rec.output.grad();
            });
        autograd::backward(weighted_sum(y, r));
        CHECK(a.grad() == seen.buffer);
        CHECK(b.grad() != seen.buffer);
        const std::vector<float> rv = r.to_vector(), da = a.grad_vector(), db = b.grad_vector();
        for (size_t i = 0; i < rv.size(); ++i) {
            CHECK(da[i] == rv[i]);
            CHECK(db[i] == (subtract ? -rv[i] : rv[i]));
        }
    }
}

TEST_CASE("grad reuse: BatchNorm's and ReLU's gradients are the same bits either way",
          "[autograd][grad_reuse]") {
    const Tensor x0 = randn({4, 3, 6, 6}, 10);
    const Tensor gamma0 = randn({3}, 11, 1.f, 0.3f), beta0 = randn({3}, 12);
    const Tensor r = randn({4, 3, 6, 6}, 13);
    auto run = [&](bool retain) {
        Tensor x = x0.detach().set_requires_grad();  // (detach: a leaf of its own per run)
        Tensor gamma = gamma0.detach().set_requires_grad(),
               beta = beta0.detach().set_requires_grad();
        Tensor h = scale(x, 1.f);
        Tensor n = batch_norm(h, gamma, beta, Tensor(), Tensor(), Tensor(), true, 0.1f, 1e-5f);
        Tensor y = relu(n);
        if (retain) {
            n.retain_grad();
            y.retain_grad();
        }
        autograd::backward(weighted_sum(y, r));
        return std::vector<std::vector<float>>{x.grad_vector(), gamma.grad_vector(),
                                               beta.grad_vector()};
    };
    check_same_bits_either_way(run);
}

TEST_CASE(
    "grad reuse: standardize's and standardize_affine's gradients are the same bits "
    "either way",
    "[autograd][grad_reuse]") {
    const Tensor x0 = randn({4, 3, 6, 6}, 20, 0.5f, 2.f);
    const Tensor w0 = randn({3, 6, 6}, 21, 1.f, 0.3f), b0 = randn({3, 6, 6}, 22);
    const Tensor r = randn({4, 3, 6, 6}, 23);
    for (const bool affine : {false, true}) {
        INFO((affine ? "standardize_affine" : "standardize"));
        auto run = [&](bool retain) {
            Tensor x = x0.detach().set_requires_grad();
            Tensor w = w0.detach().set_requires_grad(), b = b0.detach().set_requires_grad();
            Tensor h = scale(x, 1.f);
            Tensor s = affine ? standardize_affine(h, 3, 1e-5f, w, b) : standardize(h, 3, 1e-5f);
            if (retain) s.retain_grad();
            autograd::backward(weighted_sum(s, r));
            return std::vector<std::vector<float>>{x.grad_vector(), w.grad_vector(),
                                                   b.grad_vector()};
        };
        check_same_bits_either_way(run);
    }
}

TEST_CASE("grad reuse: multiply_add writes dx over dy, with the same bits as a fresh buffer",
          "[autograd][grad_reuse]") {
    // Rows of Q values (LayerNorm's weight, R = 1) and rows of R values sharing one weight
    // (GroupNorm's [C, 1, 1]); with w and b learned (dx in the sums' pass) and fixed (dx alone).
    struct Case {
        Shape w;
        bool learned;
    };
    const Shape xs{4, 3, 6, 6};
    const Tensor x0 = randn(xs, 30, 0.5f, 2.f), r = randn(xs, 31);
    for (const Case& c : {Case{{3, 6, 6}, true}, Case{{3, 1, 1}, true}, Case{{3, 6, 6}, false},
                          Case{{3, 1, 1}, false}}) {
        INFO("w " << c.w.str() << (c.learned ? ", learned" : ", fixed"));
        const Tensor w0 = randn(c.w, 32, 1.f, 0.3f), b0 = randn(c.w, 33);
        auto run = [&](bool retain) {
            Tensor x = x0.detach().set_requires_grad();
            Tensor w = w0.detach(), b = b0.detach();
            if (c.learned) {
                w.set_requires_grad();
                b.set_requires_grad();
            }
            Tensor h = scale(x, 1.f);
            h.retain_grad();
            Tensor y = multiply_add(h, w, b);
            if (retain) y.retain_grad();
            const float* dy = nullptr;
            const HookHandle hook =
                autograd::add_output_grad_hook([&](const autograd::TapeRecord& rec) {
                    if (rec.output.same_as(y)) dy = rec.output.grad();
                });
            autograd::backward(weighted_sum(y, r));
            CHECK((h.grad() == dy) == !retain);  // h took over y's gradient unless retained
            std::vector<std::vector<float>> grads{h.grad_vector()};
            if (c.learned) {
                grads.push_back(w.grad_vector());
                grads.push_back(b.grad_vector());
            }
            return grads;
        };
        check_same_bits_either_way(run);
    }
}
