#include "normgrad/train/batches.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "normgrad/parallel.hpp"

namespace normgrad::train {

std::vector<int64_t> epoch_order(int64_t count, Rng* rng) {
    std::vector<int64_t> order(static_cast<size_t>(count));
    std::iota(order.begin(), order.end(), int64_t{0});
    if (rng)
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng->below(i)]);
    return order;
}

std::string to_string(InputScaling s) {
    return s == InputScaling::Unit ? "unit" : "standardize";
}

InputScaling parse_input_scaling(const std::string& s) {
    if (s == "standardize") return InputScaling::Standardize;
    if (s == "unit") return InputScaling::Unit;
    throw std::invalid_argument(
        fmt::format("unknown input scaling '{}' (expected standardize or unit)", s));
}

namespace {

// Asks for every cache line of [p, p + n) ahead of its use (a hint: nothing waits for it). A
// function of its own: GCC 12 dropped the prefetches when they were written in a lambda.
void prefetch_bytes(const uint8_t* p, int64_t n) {
    constexpr int64_t kLine = 64;
    for (int64_t o = 0; o < n; o += kLine) __builtin_prefetch(p + o);
}

}  // namespace

Batch make_batch(const Dataset& data, const std::vector<int64_t>& order, int64_t first,
                 int64_t size, InputScaling scaling) {
    const int64_t pixels = data.rows * data.cols;
    Batch b{Tensor::empty({size, 1, data.rows, data.cols}), std::vector<int32_t>(size_t(size))};
    // (p / 255 - mean) / std = p * a + c, computed once for the whole batch (unit: p / 255).
    const bool unit = scaling == InputScaling::Unit;
    const float a = unit ? 1.f / 255.f : 1.f / (255.f * kMnistStd);
    const float c = unit ? 0.f : -kMnistMean / kMnistStd;
    float* dst = b.images.data();
    // The images are rows of the data set in shuffled order, each far from the one before, so
    // the processor's prefetcher cannot foresee them: without help each row waits for memory
    // (at one thread the mlp's batches took about 5% of its training samples in perf, nearly
    // all on the loads of these rows). So the row kAhead images on is asked for while this one
    // is converted.
    const auto image = [&](int64_t i) {
        return data.images.data() + order[size_t(first + i)] * pixels;
    };
    constexpr int64_t kAhead = 2;
    // Images are independent: at two threads each converts its own share (parallel_ranges), as
    // the other would otherwise wait for the step's first product.
    parallel_ranges(size, pixels, [&](int64_t from, int64_t to) {
        for (int64_t i = from; i < std::min(from + kAhead, to); ++i)
            prefetch_bytes(image(i), pixels);
        for (int64_t i = from; i < to; ++i) {
            if (i + kAhead < to) prefetch_bytes(image(i + kAhead), pixels);
            const int64_t idx = order[size_t(first + i)];
            const uint8_t* src = image(i);
            float* row = dst + i * pixels;
            for (int64_t p = 0; p < pixels; ++p) row[p] = src[p] * a + c;
            b.labels[size_t(i)] = data.labels[size_t(idx)];
        }
    });
    return b;
}

}  // namespace normgrad::train
