// How the elements of one shape map onto another's, for the operations that are not a simple loop
// over equal shapes: broadcasting, reductions over axes, permutations.
//
// Every such operation walks the elements of one shape in row-major order and, for each, reads
// or writes a second array at an offset given by strides: the second array's offset for the
// index (i0, i1, i2, i3) is i0 s0 + i1 s1 + i2 s2 + i3 s3. Shapes have rank at most 4, so the walk
// is four nested loops over the shape padded with 1s in front (a padded dimension has index 0).
//   - Broadcasting: a shape that broadcasts to a larger one is read with its own row-major
//     strides, except stride 0 along its size-1 dimensions (the one value is repeated).
//   - Reduction over axes: x is walked; the result, with the reduced axes kept as size 1, is the
//     broadcast case seen the other way round: every element of x lands on its group's entry.
//   - Permutation: the result is walked; dimension k reads x with the stride of x's dimension
//     dims[k].
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "normgrad/shape.hpp"

namespace normgrad::index_map {

using Dims = std::array<int64_t, Shape::kMaxRank>;

// The sizes of s, padded with leading 1s to four dimensions.
Dims padded(const Shape& s);

// The strides that read an array of shape `s` from any shape it broadcasts to (both padded to
// four dimensions): row-major, except 0 along each dimension of size 1.
Dims broadcast_strides(const Shape& s);

// The shape a and b broadcast to (NumPy's rule: aligned at the last dimension, sizes equal or
// one of them 1). Otherwise a ShapeError naming `op` and both shapes.
Shape broadcast_shape(std::string_view op, const Shape& a, const Shape& b);

// `axis` in [-rank, rank) as an index in [0, rank); otherwise a ShapeError naming `op`, the axis
// and the rank.
int normalize_axis(std::string_view op, int axis, int rank);

// Calls f(i, j) for every index of the (padded) sizes `n` in row-major order: i is the index's
// flat position, j its offset under `stride`.
template <class F>
void walk(const Dims& n, const Dims& stride, F&& f) {
    int64_t i = 0;
    for (int64_t a = 0; a < n[0]; ++a)
        for (int64_t b = 0; b < n[1]; ++b)
            for (int64_t c = 0; c < n[2]; ++c) {
                const int64_t base = a * stride[0] + b * stride[1] + c * stride[2];
                for (int64_t d = 0; d < n[3]; ++d) f(i++, base + d * stride[3]);
            }
}

// The same walk a row at a time (the last dimension): f(i, j, step, length) for the row whose
// first element has flat position i and offset j; its element d has position i + d and offset
// j + d * step. A reduction over the last axis sees step 0 (one entry for the whole row), which
// lets it sum the row in a vectorised loop instead of element by element.
template <class F>
void walk_rows(const Dims& n, const Dims& stride, F&& f) {
    int64_t i = 0;
    for (int64_t a = 0; a < n[0]; ++a)
        for (int64_t b = 0; b < n[1]; ++b)
            for (int64_t c = 0; c < n[2]; ++c, i += n[3])
                f(i, a * stride[0] + b * stride[1] + c * stride[2], stride[3], n[3]);
}

// The same with two strided arrays: f(i, j, k), j under `sj` and k under `sk`.
template <class F>
void walk2(const Dims& n, const Dims& sj, const Dims& sk, F&& f) {
    int64_t i = 0;
    for (int64_t a = 0; a < n[0]; ++a)
        for (int64_t b = 0; b < n[1]; ++b)
            for (int64_t c = 0; c < n[2]; ++c) {
                const int64_t bj = a * sj[0] + b * sj[1] + c * sj[2];
                const int64_t bk = a * sk[0] + b * sk[1] + c * sk[2];
                for (int64_t d = 0; d < n[3]; ++d) f(i++, bj + d * sj[3], bk + d * sk[3]);
            }
}

// walk2 a row at a time: f(i, j, k, sj, sk, length), the row's element d at position i + d and
// offsets j + d * sj, k + d * sk.
template <class F>
void walk2_rows(const Dims& n, const Dims& sj, const Dims& sk, F&& f) {
    int64_t i = 0;
    for (int64_t a = 0; a < n[0]; ++a)
        for (int64_t b = 0; b < n[1]; ++b)
            for (int64_t c = 0; c < n[2]; ++c, i += n[3])
                f(i, a * sj[0] + b * sj[1] + c * sj[2], a * sk[0] + b * sk[1] + c * sk[2], sj[3],
                  sk[3], n[3]);
}

}  // namespace normgrad::index_map
