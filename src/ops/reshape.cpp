// Shape operations. reshape and flatten: the same numbers seen with another shape (no copy).
// permute and transpose: the numbers copied into a new order of the dimensions. concat and
// slice: tensors joined along an axis, and a range of one axis cut out.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/reshape.hpp"
#include "ops/index_map.hpp"
#include "ops/output_grad.hpp"

namespace normgrad {

Tensor reshape(const Tensor& x, const Shape& shape) {
    if (shape.numel() != x.numel())
        shape_error("reshape", fmt::format("cannot view {} ({} values) as {} ({} values)",
                                           x.shape().str(), x.numel(), shape.str(), shape.numel()));
    Tensor y = Tensor::view_of(x, shape);
    if (autograd::needs_grad({&x})) {
        // Row-major order is unchanged, so the gradient is dy read with x's shape. When it is the
        // first gradient x receives, x simply takes over dy's buffer (y's gradient is released
        // right after this step unless it is retained, in which case it is copied).
        autograd::record("reshape", {x}, y, [x, y] {
            if (take_output_grad(x, y)) return;
            const float* dy = y.grad();
            write_grad(grad_buffer(x), x.numel(), [=](int64_t i) { return dy[i]; });
        });
    }
    return y;
}

Tensor flatten(const Tensor& x) {
    if (x.rank() < 1) shape_error("flatten", "needs at least one dimension, got a scalar");
    const int64_t N = x.dim(0);
    return reshape(x, Shape{N, N == 0 ? 0 : x.numel() / N});
}

namespace {

// x seen as [outer, x[axis], inner]: the products of its dimensions before and after `axis`.
struct AroundAxis {
    int64_t outer = 1, inner = 1;
};
AroundAxis around_axis(const Shape& x, int axis) {
    AroundAxis r;
    for (int i = 0; i < axis; ++i) r.outer *= x[i];
    for (int i = axis + 1; i < x.rank(); ++i) r.inner *= x[i];
    return r;
}

std::string dims_str(const std::vector<int>& dims) {
    return fmt::format("[{}]", fmt::join(dims, ", "));
}

// Dimension k of the result is dimension dims[k] of x (permute and transpose, named `op`).
Tensor permute_as(const char* op, const Tensor& x, const std::vector<int>& dims) {
    const int rank = x.rank();
    if (static_cast<int>(dims.size()) != rank)
        shape_error(op, fmt::format("dims {} do not permute the {} dimensions of {}",
                                    dims_str(dims), rank, x.shape().str()));
    std::vector<int> from(dims.size());  // dims with negative axes resolved
    std::vector<int64_t> out;
    for (size_t k = 0; k < dims.size(); ++k) {
        from[k] = index_map::normalize_axis(op, dims[k], rank);
        if (std::count(from.begin(), from.begin() + static_cast<long>(k), from[k]))
            shape_error(op, fmt::format("dims {} name axis {} twice (rank {})", dims_str(dims),
                                        from[k], rank));
        out.push_back(x.shape()[from[k]]);
    }
    Tensor y = Tensor::empty(Shape(out));
    // Result index (.., i_k, ..) reads x at sum_k i_k * stride of x's dimension from[k]. (The
    // broadcast strides are x's row-major ones, 0 for size-1 dimensions, whose index is 0 anyway.)
    const index_map::Dims x_strides = index_map::broadcast_strides(x.shape());
    const index_map::Dims n = index_map::padded(y.shape());
    const int pad = Shape::kMaxRank - rank;
    index_map::Dims strides{};
    for (int k = 0; k < rank; ++k)
        strides[static_cast<size_t>(pad + k)] =
            x_strides[static_cast<size_t>(pad + from[static_cast<size_t>(k)])];
    const float* xp = x.data();
    float* yp = y.data();
    index_map::walk(n, strides, [&](int64_t i, int64_t j) { yp[i] = xp[j]; });
    if (autograd::needs_grad({&x})) {
        // y[i] = x[j(i)] with j a one-to-one map of the positions: dL/dx[j(i)] = dy[i]. Sending
        // each dy[i] back to j(i) is dy permuted by the inverse permutation.
        autograd::record(op, {x}, y, [x, y, n, strides] {
            const GradBuffer g = grad_buffer(x);
            const float* dy = y.grad();
            index_map::walk(n, strides, [&](int64_t i, int64_t j) { put_grad(g, j, dy[i]); });
        });
    }
    return y;
}

}  // namespace

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
    return permute_as("permute", x, dims);
}

Tensor transpose(const Tensor& x, int dim0, int dim1) {
    const int rank = x.rank();
    std::vector<int> dims(static_cast<size_t>(rank));
    std::iota(dims.begin(), dims.end(), 0);
    std::swap(dims[static_cast<size_t>(index_map::normalize_axis("transpose", dim0, rank))],
              dims[static_cast<size_t>(index_map::normalize_axis("transpose", dim1, rank))]);
    return permute_as("transpose", x, dims);
}

Tensor concat(const std::vector<Tensor>& tensors, int axis) {
    if (tensors.empty()) shape_error("concat", "needs at least one tensor");
    const Shape& first = tensors[0].shape();
    const int rank = first.rank();
    const int ax = index_map::normalize_axis("concat", axis, rank);
    int64_t total = 0;  // the result's size along the axis
    for (size_t t = 0; t < tensors.size(); ++t) {
        const Shape& s = tensors[t].shape();
        bool fits = s.rank() == rank;
        for (int i = 0; fits && i < rank; ++i) fits = i == ax || s[i] == first[i];
        if (!fits)
            shape_error("concat",
                        fmt::format("tensor {} of shape {} does not fit tensor 0 of shape "
                                    "{} (all dimensions but axis {} must agree)",
                                    t, s.str(), first.str(), ax));
        total += s[ax];
    }
    std::vector<int64_t> out = first.dims();
    out[static_cast<size_t>(ax)] = total;
    Tensor y = Tensor::empty(Shape(out));
    // Seen as [outer, size along the axis, inner], each tensor fills a band of every outer row.
    const AroundAxis around = around_axis(first, ax);
    const int64_t outer = around.outer, inner = around.inner;
    const int64_t row = total * inner;
    std::vector<int64_t> offsets;  // where each tensor's band starts in a row of the result
    int64_t offset = 0;
    for (const Tensor& t : tensors) {
        const int64_t band = t.dim(ax) * inner;
        const float* tp = t.data();
        for (int64_t o = 0; o < outer; ++o)
            std::copy(tp + o * band, tp + (o + 1) * band, y.data() + o * row + offset);
        offsets.push_back(offset);
        offset += band;
    }
    const bool any_grad = std::any_of(tensors.begin(), tensors.end(),
                                      [](const Tensor& t) { return t.requires_grad(); });
    if (autograd::grad_enabled() && any_grad) {
        // Every element of y is a copy of one element of one input, so each input's gradient is
        // its own band of dy: the gradient sliced back along the axis.
        autograd::record("concat", tensors, y, [tensors, y, offsets, outer, inner, row, ax] {
            const float* dy = y.grad();
            for (size_t t = 0; t < tensors.size(); ++t) {
                if (!tensors[t].requires_grad()) continue;
                const int64_t band = tensors[t].dim(ax) * inner, off = offsets[t];
                write_grad(grad_buffer(tensors[t]), outer * band,
                           [=](int64_t i) { return dy[(i / band) * row + off + i % band]; });
            }
        });
    }
    return y;
}

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
    const int ax = index_map::normalize_axis("slice", axis, x.rank());
    const int64_t size = x.dim(ax);
    if (start < 0 || start > end || end > size)
        shape_error("slice", fmt::format("[{}, {}) is not a range of axis {} of {} (need 0 <= "
                                         "start <= end <= {})",
                                         start, end, ax, x.shape().str(), size));
    std::vector<int64_t> out = x.shape().dims();
    out[static_cast<size_t>(ax)] = end - start;
    Tensor y = Tensor::empty(Shape(out));
    // Seen as [outer, size, inner]: each outer row of y is the band [start, end) of x's row.
    const AroundAxis around = around_axis(x.shape(), ax);
    const int64_t outer = around.outer, inner = around.inner;
    const int64_t band = (end - start) * inner, row = size * inner, first = start * inner;
    const float* xp = x.data();
    for (int64_t o = 0; o < outer; ++o)
        std::copy(xp + o * row + first, xp + o * row + first + band, y.data() + o * band);
    if (autograd::needs_grad({&x})) {
        // y is a copy of part of x: dL/dx is dy in that part and 0 elsewhere (the elements left
        // out do not affect L), i.e. dy scattered into zeros.
        autograd::record("slice", {x}, y, [x, y, outer, band, row, first] {
            const GradBuffer g = grad_buffer(x);
            if (!g.accumulate) std::fill(g.data, g.data + x.numel(), 0.f);
            const float* dy = y.grad();
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t q = 0; q < band; ++q) g.data[o * row + first + q] += dy[o * band + q];
        });
    }
    return y;
}

}  // namespace normgrad
