// The package test's program: trains a small model holding the consumer's own layer on
// generated data (no download), then runs normgrad's generic gradient check on every layer
// example, the library's and its own. Exits 1 when training does not learn or a check fails.
#include <fmt/format.h>

#include <cstdint>
#include <exception>

#include "gated_linear.hpp"
#include "normgrad/idx.hpp"
#include "normgrad/layer_registry.hpp"
#include "normgrad/layers.hpp"
#include "normgrad/train/trainer.hpp"

namespace {

// 8x8 images of four classes: class k lights up quadrant k, over noise.
normgrad::Dataset quadrants(int64_t count, uint64_t seed) {
    normgrad::Rng rng(seed);
    normgrad::Dataset d;
    d.count = count;
    d.rows = d.cols = 8;
    d.images.resize(static_cast<size_t>(count * 64));
    d.labels.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
        const auto k = static_cast<int>(rng.below(4));
        d.labels[size_t(i)] = static_cast<uint8_t>(k);
        for (int r = 0; r < 8; ++r)
            for (int c = 0; c < 8; ++c) {
                const bool lit = (r / 4) == k / 2 && (c / 4) == k % 2;
                const auto noise = static_cast<int>(rng.below(96));
                d.images[size_t(i * 64 + r * 8 + c)] =
                    static_cast<uint8_t>(lit ? 159 + noise : noise);
            }
    }
    return d;
}

}  // namespace

int main() try {
    using namespace normgrad;
    int failures = 0;

    // Training: Flatten - Dense - GatedLinear - Dense, 3 epochs of 16 steps.
    const Dataset train_set = quadrants(512, 1), test_set = quadrants(256, 2);
    Rng rng(0);
    Sequential model;
    model.emplace<Flatten>("flatten")
        .emplace<Dense>("fc1", 64, 16, rng)
        .emplace<consumer::GatedLinear>("glu", 16, 8, rng)
        .emplace<Dense>("fc2", 8, 4, rng);
    train::TrainConfig config;
    config.epochs = 3;
    config.batch = 32;
    config.progress = false;
    const train::TrainResult result = train::train(config, model, train_set, test_set);
    const double first = result.epochs.front().train_loss, last = result.epochs.back().train_loss;
    const double accuracy = result.epochs.back().test_accuracy;
    fmt::print("training: {} steps, train loss {:.3f} -> {:.3f}, test accuracy {:.1f}%\n",
               result.last_step, first, last, 100 * accuracy);
    if (!(last < 0.5 * first) || accuracy < 0.9) {
        fmt::print("training: FAILED (expected the loss to halve and 90% test accuracy)\n");
        ++failures;
    }

    // The generic gradient check, on the library's layers and on this program's own.
    add_layer_example(consumer::GatedLinear::example());
    int checked = 0;
    for (const LayerExample& ex : layer_examples())
        for (bool training : {true, false}) {
            const GradCheckResult r = check_layer_example(ex, training);
            ++checked;
            if (!r.ok) {
                fmt::print("gradient check FAILED: {}", r.report);
                ++failures;
            }
        }
    const auto examples = layer_examples();
    if (builtin_layer_examples().size() < 10 || examples.back().name != "GatedLinear") {
        fmt::print("layer examples: FAILED (expected the library's ten and GatedLinear last)\n");
        ++failures;
    }
    fmt::print("gradient checks: {} layer examples in training and evaluation mode, {} checks\n",
               examples.size(), checked);
    fmt::print("{}\n", failures == 0 ? "consumer: all passed" : "consumer: FAILED");
    return failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
    fmt::print(stderr, "normgrad_consumer: {}\n", e.what());
    return 1;
}
