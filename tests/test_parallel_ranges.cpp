// parallel_ranges (normgrad/parallel.hpp): the split of an elementwise loop among the threads,
// and the two loops that use it, the optimizers' updates and the conversion of a batch.
#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/parallel.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/random.hpp"
#include "normgrad/train/batches.hpp"
#include "same_bits.hpp"

using namespace normgrad;

namespace {

struct Call {
    int64_t first, last;
    int thread;
};

// The calls parallel_ranges makes for n items of `work` each, in the order of their ranges.
std::vector<Call> calls_for(int64_t n, int64_t work) {
    std::vector<Call> calls;
    std::mutex m;
    parallel_ranges(n, work, [&](int64_t first, int64_t last) {
        const std::lock_guard<std::mutex> lock(m);
        calls.push_back({first, last, omp_get_thread_num()});
    });
    std::sort(calls.begin(), calls.end(),
              [](const Call& a, const Call& b) { return a.first < b.first; });
    return calls;
}

// The ranges cover [0, n) once, in order, without a gap.
void check_cover(const std::vector<Call>& calls, int64_t n) {
    int64_t next = 0;
    for (const Call& c : calls) {
        CHECK(c.first == next);
        CHECK(c.last > c.first);
        next = c.last;
    }
    CHECK(next == n);
}

struct Threads {  // sets the thread count for a scope
    int saved = num_threads();
    explicit Threads(int n) { set_num_threads(n); }
    ~Threads() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("parallel_ranges: one range per thread above the threshold, one call below",
          "[threads]") {
    const int64_t threshold = kernels::min_parallel_elements();
    const Threads two(2);
    for (int64_t n : {threshold, threshold + 1, 3 * threshold + 7}) {
        INFO("n " << n);
        const auto calls = calls_for(n, 1);
        check_cover(calls, n);
        REQUIRE(calls.size() == 2);
        CHECK(calls[1].first % 16 == 0);  // on a cache line of floats
        CHECK(calls[0].thread != calls[1].thread);
        CHECK(calls[0].last - calls[0].first >= n / 2 - 16);  // about half each
    }
    // The work per item counts: 128 images of 784 pixels share; 128 floats do not.
    CHECK(calls_for(128, 784).size() == 2);
    CHECK(calls_for(128, 1).size() == 1);
    for (int64_t n : {threshold - 1, int64_t{31}, int64_t{1}}) {
        const auto calls = calls_for(n, 1);
        check_cover(calls, n);
        CHECK(calls.size() == 1);
        CHECK(calls[0].thread == 0);
    }
    CHECK(calls_for(0, 1).empty());
    {
        const Threads one(1);
        CHECK(calls_for(4 * threshold, 1).size() == 1);
    }
    // Inside a parallel region each thread runs its own loop whole.
    std::vector<size_t> inside(2);
#pragma omp parallel num_threads(2)
    inside[size_t(omp_get_thread_num())] = calls_for(4 * threshold, 1).size();
    CHECK(inside == std::vector<size_t>{1, 1});
}

TEST_CASE(
    "parallel_ranges: the optimizers' updates and a batch give the same bits at 1 and 2 "
    "threads",
    "[threads][optim]") {
    using testing::NamedOutputs;
    // A parameter big enough to be split (200 K values, fc1 of the mlp), and a small one.
    const auto updated = [](auto make_optimizer) {
        return [make_optimizer]() {
            Rng rng(7);
            Tensor w = Tensor::randn({784, 256}, rng), b = Tensor::randn({256}, rng);
            const Tensor gw = Tensor::randn({784, 256}, rng), gb = Tensor::randn({256}, rng);
            w.set_requires_grad(true);
            b.set_requires_grad(true);
            auto opt = make_optimizer(std::vector<Parameter>{{"w", w}, {"b", b, true}});
            for (int step = 0; step < 3; ++step) {
                opt->zero_grad();
                std::copy(gw.data(), gw.data() + gw.numel(), w.mutable_grad());
                std::copy(gb.data(), gb.data() + gb.numel(), b.mutable_grad());
                opt->step();
            }
            return NamedOutputs{{"w", w.to_vector()}, {"b", b.to_vector()}};
        };
    };
    SgdOptions sgd;
    sgd.lr = 0.05f;
    sgd.momentum = 0.9f;
    sgd.nesterov = true;
    sgd.weight_decay = 1e-4f;
    testing::check_same_bits_at_1_and_2_threads(updated(
        [sgd](std::vector<Parameter> p) { return std::make_unique<Sgd>(std::move(p), sgd); }));
    AdamOptions adam;
    adam.weight_decay = 0.01f;
    adam.decoupled_weight_decay = true;
    testing::check_same_bits_at_1_and_2_threads(updated(
        [adam](std::vector<Parameter> p) { return std::make_unique<Adam>(std::move(p), adam); }));

    Dataset data;
    data.count = 300;
    data.rows = data.cols = 28;
    Rng rng(3);
    for (int64_t i = 0; i < data.count * 784; ++i)
        data.images.push_back(static_cast<uint8_t>(rng.below(256)));
    for (int64_t i = 0; i < data.count; ++i)
        data.labels.push_back(static_cast<uint8_t>(rng.below(10)));
    Rng order_rng(4);
    const auto order = train::epoch_order(data.count, &order_rng);
    testing::check_same_bits_at_1_and_2_threads([&] {
        const train::Batch b = train::make_batch(data, order, 37, 128);
        std::vector<float> labels(b.labels.begin(), b.labels.end());
        // The first image by hand: (p / 255 - mean) / std.
        const uint8_t* src = data.images.data() + order[37] * 784;
        float worst = 0.f;
        for (int64_t p = 0; p < 784; ++p)
            worst =
                std::max(worst, std::abs(b.images.data()[p] -
                                         (src[p] / 255.f - train::kMnistMean) / train::kMnistStd));
        CHECK(worst < 1e-5f);
        CHECK(b.labels[127] == data.labels[size_t(order[37 + 127])]);
        return NamedOutputs{{"images", b.images.to_vector()}, {"labels", labels}};
    });
}
