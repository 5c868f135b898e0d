// The list of built-in layer examples, the examples a program adds, and the generic check that
// tests/test_layers_gradcheck.cpp runs on each (layer_registry.hpp).
#include "normgrad/layer_registry.hpp"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/activations.hpp"
#include "normgrad/layers/avg_pool2d.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/layers/conv2d.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/layers/dropout.hpp"
#include "normgrad/layers/flatten.hpp"
#include "normgrad/layers/group_norm.hpp"
#include "normgrad/layers/layer_norm.hpp"
#include "normgrad/layers/max_pool2d.hpp"
#include "normgrad/layers/residual.hpp"
#include "normgrad/layers/rms_norm.hpp"
#include "normgrad/layers/sequential.hpp"

namespace normgrad {

// A new built-in layer: its example() next to it, and one line here.
std::vector<LayerExample> builtin_layer_examples() {
    // clang-format off
    return {
        Dense::example(),
        Conv2d::example(),
        BatchNorm1d::example(),
        BatchNorm2d::example(),
        LayerNorm::example(),
        GroupNorm::example(),
        RMSNorm::example(),
        ReLU::example(),
        Sigmoid::example(),
        Tanh::example(),
        Flatten::example(),
        MaxPool2d::example(),
        Sequential::example(),
        AvgPool2d::example(),
        GlobalAvgPool2d::example(),
        Dropout::example(),
        Residual::example(),
    };
    // clang-format on
}

namespace {

std::vector<LayerExample>& added_examples() {
    static std::vector<LayerExample> added;  // a function-local static: ready before first use
    return added;
}

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

// The seed of training_rng() during a check.
constexpr uint64_t kCheckStreamSeed = 99;

// Restores training_rng()'s state when it goes, however the scope is left.
class KeepTrainingRngState {
  public:
    KeepTrainingRngState() : saved_(training_rng().state()) {}
    ~KeepTrainingRngState() { training_rng().set_state(saved_); }
    KeepTrainingRngState(const KeepTrainingRngState&) = delete;
    KeepTrainingRngState& operator=(const KeepTrainingRngState&) = delete;

  private:
    std::string saved_;
};

}  // namespace

void add_layer_example(LayerExample example) {
    added_examples().push_back(std::move(example));
}

std::vector<LayerExample> layer_examples() {
    std::vector<LayerExample> all = builtin_layer_examples();
    const auto& added = added_examples();
    all.insert(all.end(), added.begin(), added.end());
    return all;
}

GradCheckResult check_layer_example(const LayerExample& ex, bool training,
                                    GradCheckOptions options) {
    // The check uses training_rng() as it likes (the same stream whatever ran before) and
    // leaves it as it found it.
    const KeepTrainingRngState keep_stream;
    seed_training_rng(kCheckStreamSeed);
    Rng rng(7);
    std::shared_ptr<Module> layer = ex.make(rng);
    Tensor x = spaced_input(ex.input_shape, rng).set_name("input");
    // A few training passes give running statistics something to hold.
    {
        autograd::NoGradGuard no_grad;
        layer->train(true);
        for (int i = 0; i < 3; ++i) (*layer)(Tensor::randn(ex.input_shape, rng, 0.5f, 2.f));
    }
    layer->train(training);
    // Parameters away from their initial values, then checked together with the input.
    std::vector<Tensor> wrt{x};
    for (Parameter& p : layer->parameters()) {
        Tensor noise = Tensor::randn(p.tensor.shape(), rng, 0.f, 0.5f);
        for (int64_t i = 0; i < p.tensor.numel(); ++i) p.tensor.data()[i] += noise.data()[i];
        wrt.push_back(p.tensor.set_name(p.name));
    }
    // A layer that is random in training draws the same numbers at every evaluation: the
    // stream is re-seeded before each. (Without this, each finite difference would compare two
    // different masks.)
    const bool fix_random_stream = training && (ex.flags & kRandomInTraining) != 0;
    GradCheckResult r = gradcheck(
        [&] {
            if (fix_random_stream) seed_training_rng(kCheckStreamSeed);
            return (*layer)(x);
        },
        wrt, options);
    r.report = fmt::format("{} ({}):\n{}", ex.name, training ? "train" : "eval", r.report);
    return r;
}

}  // namespace normgrad
