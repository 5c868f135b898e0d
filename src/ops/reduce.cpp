// Reductions: sum and mean to a scalar, and sum, mean, var and max over a set of axes.
// Accumulated in double so large tensors stay exact.
//
// Over axes, x is walked in row-major order and each element is sent to its group's entry in the
// result through strides that are 0 along the reduced axes (ops/index_map.hpp); the backward
// functions walk x the same way, so each element reads its own group's gradient.
#include "normgrad/ops/reduce.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "ops/index_map.hpp"

namespace normgrad {

namespace {

double total(const Tensor& x) {
    double s = 0.0;
    const float* p = x.data();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) s += p[i];
    return s;
}

// Shared backward of sum (factor 1) and mean (factor 1/n): every input gets factor * dy.
void spread(const Tensor& x, float dy_times_factor) {
    write_grad(grad_buffer(x), x.numel(), [=](int64_t) { return dy_times_factor; });
}

// A reduction of x over some of its axes.
struct Reduction {
    index_map::Dims n;        // x's sizes, padded to four dimensions
    index_map::Dims strides;  // the offset in the result of each element of x: 0 along reduced axes
    Shape kept;               // the result's shape with the reduced axes kept, as size 1
    Shape out;                // the result's shape as returned: `kept`, or without those axes
    int64_t count = 1;        // how many elements of x each result element combines
};

// The reduction of shape x over `axes` (empty: all of them), each in [-rank, rank) and given at
// most once; ShapeError naming `op`, the axis and the rank otherwise.
Reduction plan(const char* op, const Shape& x, const std::vector<int>& axes, bool keepdim) {
    const int rank = x.rank();
    std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty());
    for (int axis : axes) {
        const int k = index_map::normalize_axis(op, axis, rank);
        if (reduced[static_cast<size_t>(k)])
            shape_error(op,
                        fmt::format("axis {} is given twice (as {} for rank {})", k, axis, rank));
        reduced[static_cast<size_t>(k)] = true;
    }
    Reduction r;
    std::vector<int64_t> kept, out;
    for (int i = 0; i < rank; ++i) {
        if (reduced[static_cast<size_t>(i)]) {
            r.count *= x[i];
            kept.push_back(1);
            if (keepdim) out.push_back(1);
        } else {
            kept.push_back(x[i]);
            out.push_back(x[i]);
        }
    }
    r.n = index_map::padded(x);
    r.kept = Shape(kept);
    r.out = Shape(out);
    // Size-1 dimensions get stride 0 here, reduced or not: their index is always 0 anyway.
    r.strides = index_map::broadcast_strides(r.kept);
    return r;
}

// mean, var and max of an empty group are undefined.
void require_nonempty(const char* op, const Tensor& x, const Reduction& r) {
    if (r.count == 0)
        shape_error(op, fmt::format("the reduced axes of {} hold no elements", x.shape().str()));
}

// Sums of a row, in double: sum of v[d] (shift 0) or of (v[d] - shift)^2. Eight partial sums
// the compiler keeps in vector registers, added in a fixed order (the result does not depend on
// the instruction set).
double row_sum(const float* v, int64_t len) {
    double acc[8] = {};
    int64_t d = 0;
    for (; d + 8 <= len; d += 8)
        for (int k = 0; k < 8; ++k) acc[k] += v[d + k];
    double s = 0.0;
    for (int k = 0; k < 8; ++k) s += acc[k];
    for (; d < len; ++d) s += v[d];
    return s;
}

double row_squared_deviations(const float* v, int64_t len, double shift) {
    double acc[8] = {};
    int64_t d = 0;
    for (; d + 8 <= len; d += 8)
        for (int k = 0; k < 8; ++k) {
            const double e = v[d + k] - shift;
            acc[k] += e * e;
        }
    double s = 0.0;
    for (int k = 0; k < 8; ++k) s += acc[k];
    for (; d < len; ++d) s += (v[d] - shift) * (v[d] - shift);
    return s;
}

// The sum of each group of x, in double. A row along which the group does not change (the last
// axis reduced) is summed at once.
std::vector<double> group_sums(const Tensor& x, const Reduction& r) {
    std::vector<double> s(static_cast<size_t>(r.kept.numel()), 0.0);
    const float* xp = x.data();
    index_map::walk_rows(r.n, r.strides, [&](int64_t i, int64_t j, int64_t step, int64_t len) {
        if (step == 0) {
            s[static_cast<size_t>(j)] += row_sum(xp + i, len);
            return;
        }
        for (int64_t d = 0; d < len; ++d) s[static_cast<size_t>(j + d * step)] += xp[i + d];
    });
    return s;
}

// g[i + d] (+)= value(d, j + d * step) for one row, with the accumulate test out of the loop.
template <class Value>
void put_row(GradBuffer g, int64_t i, int64_t len, Value value) {
    float* out = g.data + i;
    if (g.accumulate)
        for (int64_t d = 0; d < len; ++d) out[d] += value(d);
    else
        for (int64_t d = 0; d < len; ++d) out[d] = value(d);
}

Tensor to_tensor(const Shape& shape, const std::vector<double>& values) {
    Tensor y = Tensor::empty(shape);
    std::transform(values.begin(), values.end(), y.data(),
                   [](double v) { return static_cast<float>(v); });
    return y;
}

// Shared backward of sum (factor 1) and mean (factor 1/n) over axes: every element of x gets
// factor * dy of its group.
void spread_groups(const Tensor& x, const Tensor& y, const Reduction& r, double factor) {
    const GradBuffer g = grad_buffer(x);
    const float* dy = y.grad();
    index_map::walk_rows(r.n, r.strides, [&](int64_t i, int64_t j, int64_t step, int64_t len) {
        put_row(g, i, len,
                [&](int64_t d) { return static_cast<float>(factor * dy[j + d * step]); });
    });
}

}  // namespace

Tensor sum(const Tensor& x) {
    Tensor y = Tensor::scalar(static_cast<float>(total(x)));
    if (autograd::needs_grad({&x})) {
        // y = sum_i x_i: dy/dx_i = 1.
        autograd::record("sum", {x}, y, [x, y] { spread(x, y.grad()[0]); });
    }
    return y;
}

Tensor mean(const Tensor& x) {
    if (x.numel() == 0) shape_error("mean", "the mean of an empty tensor is undefined");
    const auto n = static_cast<double>(x.numel());
    Tensor y = Tensor::scalar(static_cast<float>(total(x) / n));
    if (autograd::needs_grad({&x})) {
        // y = (1/n) sum_i x_i: dy/dx_i = 1/n.
        autograd::record("mean", {x}, y,
                         [x, y, n] { spread(x, static_cast<float>(y.grad()[0] / n)); });
    }
    return y;
}

Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
    const Reduction r = plan("sum", x.shape(), axes, keepdim);
    Tensor y = to_tensor(r.out, group_sums(x, r));
    if (autograd::needs_grad({&x})) {
        // y_j = sum of x_i over group j: dy_j/dx_i = 1 for the x_i of group j, so dL/dx_i is
        // dy of x_i's group.
        autograd::record("sum", {x}, y, [x, y, r] { spread_groups(x, y, r, 1.0); });
    }
    return y;
}

Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
    const Reduction r = plan("mean", x.shape(), axes, keepdim);
    require_nonempty("mean", x, r);
    std::vector<double> m = group_sums(x, r);
    for (double& v : m) v /= static_cast<double>(r.count);
    Tensor y = to_tensor(r.out, m);
    if (autograd::needs_grad({&x})) {
        // y_j = (1/n) sum of x_i over group j (n elements): dL/dx_i = dy_j / n.
        autograd::record("mean", {x}, y,
                         [x, y, r] { spread_groups(x, y, r, 1.0 / static_cast<double>(r.count)); });
    }
    return y;
}

// With unbiased and one element per group, n - 1 = 0: the variance is NaN, and so is its
// gradient, as torch.var gives.
Tensor var(const Tensor& x, const std::vector<int>& axes, bool unbiased, bool keepdim) {
    const Reduction r = plan("var", x.shape(), axes, keepdim);
    require_nonempty("var", x, r);
    std::vector<double> m = group_sums(x, r);  // then the group means
    for (double& v : m) v /= static_cast<double>(r.count);
    std::vector<double> ss(m.size(), 0.0);  // the sums of squared deviations
    const float* xp = x.data();
    index_map::walk_rows(r.n, r.strides, [&](int64_t i, int64_t j, int64_t step, int64_t len) {
        if (step == 0) {
            ss[static_cast<size_t>(j)] += row_squared_deviations(xp + i, len, m[size_t(j)]);
            return;
        }
        for (int64_t d = 0; d < len; ++d) {
            const double e = xp[i + d] - m[static_cast<size_t>(j + d * step)];
            ss[static_cast<size_t>(j + d * step)] += e * e;
        }
    });
    const int64_t divisor = unbiased ? r.count - 1 : r.count;  // n' (n or n - 1)
    const double inv =
        divisor > 0 ? 1.0 / static_cast<double>(divisor) : std::numeric_limits<double>::quiet_NaN();
    for (double& v : ss) v *= inv;
    Tensor y = to_tensor(r.out, ss);
    if (autograd::needs_grad({&x})) {
        // v = (1/n') sum_i (x_i - m)^2 with m = (1/n) sum_i x_i, over one group. Then
        //   dv/dx_k = (2/n') sum_i (x_i - m) (delta_ik - 1/n)
        //           = (2/n') (x_k - m) - (2/(n n')) sum_i (x_i - m) = (2/n') (x_k - m),
        // since the deviations from the mean sum to 0. So dL/dx_k = 2 (x_k - m) / n' * dy.
        autograd::record("var", {x}, y, [x, y, r, m = std::move(m), inv] {
            const GradBuffer g = grad_buffer(x);
            const float *dy = y.grad(), *xv = x.data();
            index_map::walk_rows(
                r.n, r.strides, [&](int64_t i, int64_t j, int64_t step, int64_t len) {
                    put_row(g, i, len, [&](int64_t d) {
                        const int64_t k = j + d * step;
                        return static_cast<float>(2.0 * (xv[i + d] - m[size_t(k)]) * inv * dy[k]);
                    });
                });
        });
    }
    return y;
}

// A NaN in a group makes its maximum NaN (the first NaN wins), as torch.amax.
Tensor max(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
    const Reduction r = plan("max", x.shape(), axes, keepdim);
    require_nonempty("max", x, r);
    std::vector<int64_t> arg(static_cast<size_t>(r.kept.numel()), -1);  // x's index of each max
    Tensor y = Tensor::empty(r.out);
    float* yp = y.data();
    const float* xp = x.data();
    // x is walked in row-major order, so a later equal value never replaces the first one.
    index_map::walk(r.n, r.strides, [&](int64_t i, int64_t j) {
        int64_t& a = arg[static_cast<size_t>(j)];
        const float v = xp[i];
        if (a < 0 || v > yp[j] || (std::isnan(v) && !std::isnan(yp[j]))) {
            a = i;
            yp[j] = v;
        }
    });
    if (autograd::needs_grad({&x})) {
        // y_j = x_a(j), the first maximal element of group j: locally y_j is that one element,
        // so dL/dx_a(j) = dy_j and every other element of the group gets 0.
        autograd::record("max", {x}, y, [x, y, arg = std::move(arg)] {
            const GradBuffer g = grad_buffer(x);
            if (!g.accumulate) std::fill(g.data, g.data + x.numel(), 0.f);
            const float* dy = y.grad();
            for (size_t j = 0; j < arg.size(); ++j) g.data[arg[j]] += dy[j];
        });
    }
    return y;
}

}  // namespace normgrad
