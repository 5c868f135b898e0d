// The broadcast that normalisation layers make, seen as simple loops: elementwise.cpp's add,
// sub, mul and div, and multiply_add.cpp, use it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "normgrad/tensor.hpp"

namespace normgrad::detail {

// One operand has the result's shape and the other holds one value per index of a contiguous
// block of the result's axes: a per-group statistic [N, G, 1] against [N, G, M] (LayerNorm,
// GroupNorm), a per-channel weight [C, 1, 1] against [N, C, H, W]. Viewed as a result [P, Q, R]
// and a small operand [Q], every row of R values shares one value of the small operand, so each
// row is one vectorisable loop. (elementwise.cpp's general walk does the same sums element by
// element, through strides: with these loops a ResNet with LayerNorm took 10.7 s for 60 steps
// instead of 17.1 s; with GroupNorm, whose rows are long, it made no difference.)
struct MiddleBroadcast {
    int64_t P, Q, R;
};

// The view, when `small` broadcasts against `full` that way (numpy's rules: shapes aligned on
// the right, missing leading axes of size 1); nullopt otherwise.
inline std::optional<MiddleBroadcast> middle_broadcast(const Shape& full, const Shape& small) {
    const int rf = full.rank(), rs = small.rank();
    if (rs > rf) return std::nullopt;
    auto small_dim = [&](int axis) {
        return axis < rf - rs ? int64_t{1} : small[axis - (rf - rs)];
    };
    int first = rf, last = -1;  // the axes where small is not 1
    for (int axis = 0; axis < rf; ++axis) {
        const int64_t d = small_dim(axis);
        if (d != 1 && d != full[axis]) return std::nullopt;
        if (d != 1) first = std::min(first, axis), last = axis;
    }
    MiddleBroadcast v{1, 1, 1};
    for (int axis = 0; axis < rf; ++axis) {
        if (axis < first) {
            v.P *= full[axis];
        } else if (axis <= last) {
            if (small_dim(axis) != full[axis]) return std::nullopt;  // a 1 inside the block
            v.Q *= full[axis];
        } else {
            v.R *= full[axis];
        }
    }
    return v;
}

}  // namespace normgrad::detail
