// What LayerNorm and RMSNorm share: the checks of normalized_shape and of the input against it,
// and the axes they normalise over.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad::detail {

inline void check_norm_settings(std::string_view layer, const std::vector<int64_t>& shape,
                                float eps) {
    if (shape.empty() || shape.size() > static_cast<size_t>(Shape::kMaxRank))
        throw std::invalid_argument(
            fmt::format("{}: normalized_shape needs 1 to {} dimensions, got {}", layer,
                        Shape::kMaxRank, shape.size()));
    for (int64_t d : shape)
        if (d < 1)
            throw std::invalid_argument(
                fmt::format("{}: normalized_shape [{}] has a dimension below 1", layer,
                            fmt::join(shape, ", ")));
    if (!(eps > 0.f))
        throw std::invalid_argument(fmt::format("{}: eps must be positive, got {}", layer, eps));
}

// The last len(shape) axes of x, which must be `shape` (a ShapeError naming the layer and both
// shapes otherwise), as negative axis numbers.
inline std::vector<int> trailing_axes(std::string_view layer, const std::vector<int64_t>& shape,
                                      const Tensor& x) {
    const int k = static_cast<int>(shape.size());
    bool fits = x.rank() >= k;
    for (int i = 0; fits && i < k; ++i) fits = x.dim(x.rank() - k + i) == shape[i];
    if (!fits)
        shape_error(layer,
                    fmt::format("expected input [*, {}] (ending in normalized_shape), got {}",
                                fmt::join(shape, ", "), x.shape().str()));
    std::vector<int> axes;
    for (int i = -k; i < 0; ++i) axes.push_back(i);
    return axes;
}

}  // namespace normgrad::detail
