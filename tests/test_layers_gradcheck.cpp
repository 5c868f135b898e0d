// The generic layer test: every layer in the registry (built-in or added later) has its input
// and parameter gradients checked by finite differences, in training and in evaluation mode.
#include <catch2/catch.hpp>

#include "normgrad/autograd.hpp"
#include "normgrad/gradcheck.hpp"
#include "normgrad/layer_registry.hpp"
#include "normgrad/layers.hpp"

using namespace normgrad;

namespace {

// Distinct values half a spacing away from zero: no max-pool tie and no ReLU kink can be
// crossed by a finite-difference step.
Tensor spaced_input(const Shape& s, Rng& rng) {
    const float spacing = 0.1f;
    std::vector<float> v(static_cast<size_t>(s.numel()));
    for (size_t i = 0; i < v.size(); ++i)
        v[i] = spacing * (static_cast<float>(i) - static_cast<float>(v.size() / 2) + 0.5f);
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
    return Tensor::from(s, v);
}

}  // namespace

TEST_CASE("every registered layer passes the finite-difference gradient check",
          "[layers][gradcheck]") {
    const auto& registry = layer_registry();
    REQUIRE(registry.size() >= 10);  // the built-in layers and the example LeakyReLU
    for (const LayerExample& ex : registry) {
        for (bool training : {true, false}) {
            DYNAMIC_SECTION(ex.name << (training ? " (train)" : " (eval)")) {
                Rng rng(7);
                std::shared_ptr<Module> layer = ex.make(rng);
                Tensor x = spaced_input(ex.input_shape, rng).set_name("input");
                // A few training passes give running statistics something to hold.
                {
                    autograd::NoGradGuard no_grad;
                    layer->train(true);
                    for (int i = 0; i < 3; ++i)
                        (*layer)(Tensor::randn(ex.input_shape, rng, 0.5f, 2.f));
                }
                layer->train(training);
                // Parameters away from their initial values (gamma = 1, beta = 0 could hide a
                // missing term), then checked together with the input.
                std::vector<Tensor> wrt{x};
                for (Parameter& p : layer->parameters()) {
                    Tensor noise = Tensor::randn(p.tensor.shape(), rng, 0.f, 0.5f);
                    for (int64_t i = 0; i < p.tensor.numel(); ++i)
                        p.tensor.data()[i] += noise.data()[i];
                    wrt.push_back(p.tensor.set_name(p.name));
                }
                GradCheckOptions opt;
                opt.step = 1e-3;
                opt.atol = 2e-3;
                GradCheckResult r = gradcheck([&] { return (*layer)(x); }, wrt, opt);
                INFO(r.report);
                CHECK(r.ok);
            }
        }
    }
}
