// AvgPool2d and GlobalAvgPool2d: the average-pooling operations (src/ops/avg_pool2d.cpp) as layers.
#include "normgrad/layers/avg_pool2d.hpp"

#include <fmt/format.h>

#include <limits>
#include <stdexcept>

#include "normgrad/layer_registry.hpp"

namespace normgrad {

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding) {
    // Checked here rather than at the first forward, where the mistake is further from its cause
    // (and the values must fit Pool2dParams' ints).
    const int64_t most = std::numeric_limits<int>::max();
    if (kernel < 1 || kernel > most || stride < 0 || stride > most || padding < 0 ||
        padding > kernel / 2)
        throw std::invalid_argument(fmt::format(
            "AvgPool2d: kernel {} stride {} padding {}: need 1 <= kernel, stride >= 0 (0: the same "
            "as kernel) and 0 <= padding <= kernel / 2",
            kernel, stride, padding));
    params = {static_cast<int>(kernel), static_cast<int>(stride), static_cast<int>(padding)};
}

std::string AvgPool2d::describe() const {
    return fmt::format("AvgPool2d({}x{}, stride {}, padding {})", params.kernel, params.kernel,
                       params.stride == 0 ? params.kernel : params.stride, params.padding);
}

// Odd sizes, overlapping windows (stride 2 < kernel 3) and padding: every path of the backward.
LayerExample AvgPool2d::example() {
    return {"AvgPool2d", Shape({2, 2, 5, 5}),
            [](Rng&) { return std::make_shared<AvgPool2d>(3, 2, 1); }};
}

LayerExample GlobalAvgPool2d::example() {
    return {"GlobalAvgPool2d", Shape({2, 3, 3, 4}),
            [](Rng&) { return std::make_shared<GlobalAvgPool2d>(); }};
}

}  // namespace normgrad
