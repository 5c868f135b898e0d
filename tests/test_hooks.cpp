// The engine's hooks (hooks.hpp): chained, in the order added, removed with their handle.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/layers.hpp"
#include "normgrad/ops.hpp"

using namespace normgrad;

TEST_CASE("hooks: chained in the order added, each removed by its own handle", "[hooks]") {
    std::vector<std::string> calls;
    Tensor a = Tensor::from({2}, std::vector<float>{1.f, -2.f});
    a.set_requires_grad();
    {
        const HookHandle first = autograd::add_forward_hook(
            [&](const autograd::TapeRecord& r) { calls.push_back(std::string("1:") + r.op); });
        HookHandle second = autograd::add_forward_hook(
            [&](const autograd::TapeRecord& r) { calls.push_back(std::string("2:") + r.op); });
        Tensor y = relu(a);
        CHECK(calls == std::vector<std::string>{"1:relu", "2:relu"});
        second.reset();  // removes the second only
        calls.clear();
        Tensor z = scale(a, 3.f);
        CHECK(calls == std::vector<std::string>{"1:scale"});
        autograd::release_tape();
    }
    calls.clear();
    Tensor w = relu(a);  // both handles gone: nothing is called
    CHECK(calls.empty());
    autograd::release_tape();
}

TEST_CASE("hooks: an output gradient hook sees the output gradient before it is freed", "[hooks]") {
    Tensor a = Tensor::from({3}, std::vector<float>{1.f, 2.f, 3.f});
    a.set_requires_grad();
    Tensor y = relu(a);  // (whose backward writes a's gradient over y's)
    std::vector<float> seen;
    const HookHandle hook = autograd::add_output_grad_hook([&](const autograd::TapeRecord& r) {
        if (r.output.same_as(y)) seen = r.output.grad_vector();
    });
    autograd::backward(sum(y));
    CHECK(seen == std::vector<float>{1.f, 1.f, 1.f});  // d sum / dy
    CHECK_FALSE(y.has_grad());                         // and freed afterwards
}

TEST_CASE(
    "hooks: an output gradient hook runs before its record's backward, a backward hook "
    "after",
    "[hooks]") {
    Tensor a = Tensor::from({2}, std::vector<float>{1.f, -2.f});
    a.set_requires_grad();
    Tensor y = scale(relu(a), 3.f);
    std::vector<std::string> calls;
    const HookHandle before = autograd::add_output_grad_hook([&](const autograd::TapeRecord& r) {
        calls.push_back(std::string("grad of ") + r.op +
                        (r.inputs[0].has_grad() ? "" : ", input none"));
    });
    const HookHandle after = autograd::add_backward_hook([&](const autograd::TapeRecord& r) {
        calls.push_back(std::string("after ") + r.op +
                        (r.inputs[0].has_grad() ? "" : ", input none"));
    });
    autograd::backward(sum(y));
    CHECK(calls == std::vector<std::string>{"grad of sum, input none", "after sum",
                                            "grad of scale, input none", "after scale",
                                            "grad of relu, input none", "after relu"});
}

TEST_CASE("hooks: module hooks see each module with its input and output", "[hooks]") {
    Rng rng(0);
    Sequential net;
    net.emplace<Dense>("fc", 3, 2, rng).emplace<ReLU>("act");
    std::vector<std::string> seen;
    const HookHandle hook =
        add_module_hook([&](const Module& m, const Tensor& in, const Tensor& out) {
            seen.push_back((m.name().empty() ? m.kind() : m.name()) + " " + in.shape().str() +
                           " -> " + out.shape().str());
        });
    autograd::NoGradGuard no_tape;
    net(Tensor::zeros({4, 3}));
    CHECK(seen == std::vector<std::string>{"fc [4, 3] -> [4, 2]", "act [4, 2] -> [4, 2]",
                                           "Sequential [4, 3] -> [4, 2]"});
}

TEST_CASE("hooks: a handle moved away removes its hook once, when the new owner goes", "[hooks]") {
    int calls = 0;
    HookHandle outer;
    {
        HookHandle inner =
            autograd::add_forward_hook([&](const autograd::TapeRecord&) { ++calls; });
        outer = std::move(inner);
    }
    Tensor a = Tensor::ones({1});
    a.set_requires_grad();
    Tensor y = relu(a);
    CHECK(calls == 1);  // still installed: the moved-from handle removed nothing
    outer.reset();
    Tensor z = relu(a);
    CHECK(calls == 1);
    autograd::release_tape();
}
