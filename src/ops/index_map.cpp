#include "ops/index_map.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace normgrad::index_map {

Dims padded(const Shape& s) {
    Dims n;
    n.fill(1);
    const int pad = Shape::kMaxRank - s.rank();
    for (int i = 0; i < s.rank(); ++i) n[static_cast<size_t>(pad + i)] = s[i];
    return n;
}

Dims broadcast_strides(const Shape& s) {
    const Dims n = padded(s);
    Dims stride{};
    int64_t step = 1;
    for (int i = Shape::kMaxRank - 1; i >= 0; --i) {
        const auto k = static_cast<size_t>(i);
        stride[k] = n[k] == 1 ? 0 : step;
        step *= n[k];
    }
    return stride;
}

Shape broadcast_shape(std::string_view op, const Shape& a, const Shape& b) {
    const int rank = std::max(a.rank(), b.rank());
    const Dims na = padded(a), nb = padded(b);
    std::vector<int64_t> out;
    for (int i = Shape::kMaxRank - rank; i < Shape::kMaxRank; ++i) {
        const auto k = static_cast<size_t>(i);
        if (na[k] != nb[k] && na[k] != 1 && nb[k] != 1)
            shape_error(op, fmt::format("shapes {} and {} cannot be broadcast together (dimension "
                                        "{} from the end: {} vs {})",
                                        a.str(), b.str(), Shape::kMaxRank - i, na[k], nb[k]));
        out.push_back(na[k] == 1 ? nb[k] : na[k]);
    }
    return Shape(out);
}

int normalize_axis(std::string_view op, int axis, int rank) {
    if (rank == 0)
        shape_error(op,
                    fmt::format("axis {} is out of range for rank 0 (a scalar has no axes)", axis));
    const int k = axis < 0 ? axis + rank : axis;
    if (k < 0 || k >= rank)
        shape_error(op, fmt::format("axis {} is out of range for rank {} (valid: {} to {})", axis,
                                    rank, -rank, rank - 1));
    return k;
}

}  // namespace normgrad::index_map
