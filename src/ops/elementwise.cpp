// Elementwise arithmetic: add, sub, mul, div with broadcasting, scale, add_scalar, and a
// per-channel bias add.
//
// add, sub and mul on equal shapes (what training runs) are simple loops of their own; other
// shapes go through broadcast_binary, which walks the broadcast result with strides
// (ops/index_map.hpp) and is correct for any pair of broadcastable shapes rather than fast.
#include <fmt/format.h>

#include <optional>
#include <vector>

#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "ops/index_map.hpp"
#include "ops/middle_broadcast.hpp"
#include "ops/output_grad.hpp"

namespace normgrad {

namespace {

// The gradient of `t` gets factor * src, elementwise.
void add_scaled_grad(const Tensor& t, float factor, const float* src) {
    write_grad(grad_buffer(t), t.numel(), [=](int64_t i) { return factor * src[i]; });
}

// Each operation's value and its two partial derivatives times dy, for the general paths.
struct AddOp {
    static float value(float a, float b) { return a + b; }
    // y = a + b: dy/da = 1, dy/db = 1.
    static float grad_a(float dy, float, float) { return dy; }
    static float grad_b(float dy, float, float) { return dy; }
};
struct SubOp {
    static float value(float a, float b) { return a - b; }
    // y = a - b: dy/da = 1, dy/db = -1.
    static float grad_a(float dy, float, float) { return dy; }
    static float grad_b(float dy, float, float) { return -dy; }
};
struct MulOp {
    static float value(float a, float b) { return a * b; }
    // y = a b: dy/da = b, dy/db = a (the product rule).
    static float grad_a(float dy, float, float b) { return dy * b; }
    static float grad_b(float dy, float a, float) { return dy * a; }
};
struct DivOp {
    static float value(float a, float b) { return a / b; }
    // y = a b^-1: dy/da = 1 / b; dy/db = a * d(b^-1)/db = -a / b^2.
    static float grad_a(float dy, float, float b) { return dy / b; }
    static float grad_b(float dy, float a, float b) { return -dy * a / (b * b); }
};

// Op on equal shapes: one loop forward, one loop per input backward.
template <class Op>
Tensor same_shape_binary(const char* op, const Tensor& a, const Tensor& b) {
    Tensor y = Tensor::empty(a.shape());
    const int64_t n = y.numel();
    const float *ap = a.data(), *bp = b.data();
    float* yp = y.data();
    kernels::write_elements(yp, n, false, [=](int64_t i) { return Op::value(ap[i], bp[i]); });
    if (autograd::needs_grad({&a, &b})) {
        // dL/da_i = dy_i * dy/da at (a_i, b_i), and the same for b (see Op).
        autograd::record(op, {a, b}, y, [a, b, y, n] {
            const float *dy = y.grad(), *av = a.data(), *bv = b.data();
            if (a.requires_grad())
                write_grad(grad_buffer(a), n,
                           [=](int64_t i) { return Op::grad_a(dy[i], av[i], bv[i]); });
            if (b.requires_grad())
                write_grad(grad_buffer(b), n,
                           [=](int64_t i) { return Op::grad_b(dy[i], av[i], bv[i]); });
        });
    }
    return y;
}

// Which input of a binary operation a gradient is for.
enum class Input { a, b };

// The gradient of input a or b of a broadcast operation whose result has the padded sizes `n`
// and reads a and b with strides sa and sb: each element of the input gets the sum, over the
// result elements i that read it, of partial(i, j, k) (j, k: the offsets of a and b that element
// i read). So an input broadcast along some dimensions gets the output gradient summed over them.
// Summed in double, as a size-1 input may collect a whole tensor's worth of terms.
template <class Partial>
void add_broadcast_grad(const Tensor& t, Input which, const index_map::Dims& n,
                        const index_map::Dims& sa, const index_map::Dims& sb, Partial partial) {
    const int64_t out_numel = n[0] * n[1] * n[2] * n[3];
    if (t.numel() == out_numel) {
        // Not broadcast: each element of t is read by exactly one y_i, its gradient is one term.
        const GradBuffer g = grad_buffer(t);
        index_map::walk2_rows(
            n, sa, sb, [&](int64_t i, int64_t j, int64_t k, int64_t sj, int64_t sk, int64_t len) {
                float* out = g.data + (which == Input::a ? j : k);
                for (int64_t d = 0; d < len; ++d) {
                    const float v = partial(i + d, j + d * sj, k + d * sk);
                    out[d] = g.accumulate ? out[d] + v : v;
                }
            });
        return;
    }
    std::vector<double> sum(static_cast<size_t>(t.numel()), 0.0);
    index_map::walk2_rows(
        n, sa, sb, [&](int64_t i, int64_t j, int64_t k, int64_t sj, int64_t sk, int64_t len) {
            const int64_t at = which == Input::a ? j : k, step = which == Input::a ? sj : sk;
            if (step == 0) {  // one element of t for the whole row: its terms summed at once
                double row = 0.0;
                for (int64_t d = 0; d < len; ++d) row += partial(i + d, j + d * sj, k + d * sk);
                sum[static_cast<size_t>(at)] += row;
                return;
            }
            for (int64_t d = 0; d < len; ++d)
                sum[static_cast<size_t>(at + d * step)] += partial(i + d, j + d * sj, k + d * sk);
        });
    const double* s = sum.data();
    write_grad(grad_buffer(t), t.numel(), [=](int64_t j) { return static_cast<float>(s[j]); });
}

// ---- The broadcasts normalisation layers make, as simple loops (ops/middle_broadcast.hpp) ----
using detail::middle_broadcast;
using detail::MiddleBroadcast;

// y[p, q, r] = Op(a[p, q, r], b[q]), or Op(a[q], b[p, q, r]) with SmallIsA.
// (R = 1, a LayerNorm's elementwise weight [C, H, W] against [N, C, H, W]: the loops run along q.)
template <class Op, bool SmallIsA>
void middle_forward(const MiddleBroadcast& v, const float* full, const float* small, float* y) {
    if (v.R == 1) {
#pragma omp parallel for schedule(static) if (v.P * v.Q >= kernels::min_parallel_elements())
        for (int64_t p = 0; p < v.P; ++p) {
            const float* f = full + p * v.Q;
            float* out = y + p * v.Q;
#pragma omp simd
            for (int64_t q = 0; q < v.Q; ++q)
                out[q] = SmallIsA ? Op::value(small[q], f[q]) : Op::value(f[q], small[q]);
        }
        return;
    }
    const int64_t rows = v.P * v.Q;
#pragma omp parallel for schedule(static) if (rows * v.R >= kernels::min_parallel_elements())
    for (int64_t row = 0; row < rows; ++row) {
        const float s = small[row % v.Q];
        const float* f = full + row * v.R;
        float* out = y + row * v.R;
        if (SmallIsA) {
#pragma omp simd
            for (int64_t r = 0; r < v.R; ++r) out[r] = Op::value(s, f[r]);
        } else {
#pragma omp simd
            for (int64_t r = 0; r < v.R; ++r) out[r] = Op::value(f[r], s);
        }
    }
}

// The backward of middle_forward: the full operand's gradient elementwise, the small one's
// summed over p and r (each row in float, the rows in double, in a fixed order per q). The
// partials are Op's with (a, b) in their places: dL/da = dy * Op::grad_a, dL/db = dy * Op::grad_b.
template <class Op, bool SmallIsA>
void middle_backward(const MiddleBroadcast& v, const Tensor& full, const Tensor& small,
                     const float* dy) {
    const float *fv = full.data(), *sv = small.data();
    const int64_t rows = v.P * v.Q;
    const bool parallel = rows * v.R >= kernels::min_parallel_elements();
    if (v.R == 1) {  // rows of Q values: the small operand's sums by columns
        if (full.requires_grad()) {
            const GradBuffer g = grad_buffer(full);
#pragma omp parallel for schedule(static) if (parallel)
            for (int64_t p = 0; p < v.P; ++p) {
                const int64_t o = p * v.Q;
                const float *d = dy + o, *f = fv + o;
                float* out = g.data + o;
                auto partial = [=](int64_t q) {
                    return SmallIsA ? Op::grad_b(d[q], sv[q], f[q]) : Op::grad_a(d[q], f[q], sv[q]);
                };
                if (g.accumulate) {
#pragma omp simd
                    for (int64_t q = 0; q < v.Q; ++q) out[q] += partial(q);
                } else {
#pragma omp simd
                    for (int64_t q = 0; q < v.Q; ++q) out[q] = partial(q);
                }
            }
        }
        if (small.requires_grad()) {
            std::vector<double> sums(static_cast<size_t>(v.Q), 0.0);
            double* sp = sums.data();
            detail::for_rows_by_column_ranges(v, parallel, [=](int64_t p, int64_t lo, int64_t hi) {
                const float *d = dy + p * v.Q, *f = fv + p * v.Q, *sm = sv;
                double* acc = sp;
#pragma omp simd
                for (int64_t q = lo; q < hi; ++q)
                    acc[q] +=
                        SmallIsA ? Op::grad_a(d[q], sm[q], f[q]) : Op::grad_b(d[q], f[q], sm[q]);
            });
            write_grad(grad_buffer(small), v.Q,
                       [=](int64_t q) { return static_cast<float>(sp[q]); });
        }
        return;
    }
    if (full.requires_grad()) {
        const GradBuffer g = grad_buffer(full);
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t row = 0; row < rows; ++row) {
            const float s = sv[row % v.Q];
            const int64_t o = row * v.R;
            const float *d = dy + o, *f = fv + o;
            float* out = g.data + o;
            // The full operand is a (SmallIsA false) or b.
            auto partial = [=](int64_t r) {
                return SmallIsA ? Op::grad_b(d[r], s, f[r]) : Op::grad_a(d[r], f[r], s);
            };
            if (g.accumulate) {
#pragma omp simd
                for (int64_t r = 0; r < v.R; ++r) out[r] += partial(r);
            } else {
#pragma omp simd
                for (int64_t r = 0; r < v.R; ++r) out[r] = partial(r);
            }
        }
    }
    if (small.requires_grad()) {
        std::vector<float> sums(static_cast<size_t>(v.Q));
#pragma omp parallel for schedule(static) if (parallel && v.Q > 1)
        for (int64_t q = 0; q < v.Q; ++q) {
            const float s = sv[q];
            double total = 0.0;
            for (int64_t p = 0; p < v.P; ++p) {
                const int64_t o = (p * v.Q + q) * v.R;
                const float *d = dy + o, *f = fv + o;
                float row = 0.f;
#pragma omp simd reduction(+ : row)
                for (int64_t r = 0; r < v.R; ++r)
                    row += SmallIsA ? Op::grad_a(d[r], s, f[r]) : Op::grad_b(d[r], f[r], s);
                total += row;
            }
            sums[static_cast<size_t>(q)] = static_cast<float>(total);
        }
        const float* sp = sums.data();
        write_grad(grad_buffer(small), v.Q, [=](int64_t q) { return sp[q]; });
    }
}

template <class Op, bool SmallIsA>
Tensor middle_binary(const char* op, const Tensor& a, const Tensor& b, const MiddleBroadcast& v) {
    const Tensor& full = SmallIsA ? b : a;
    const Tensor& small = SmallIsA ? a : b;
    Tensor y = Tensor::empty(full.shape());
    middle_forward<Op, SmallIsA>(v, full.data(), small.data(), y.data());
    if (autograd::needs_grad({&a, &b})) {
        // y_pqr = Op(full_pqr, small_q): by the chain rule dL/dfull_pqr = dy_pqr * dOp/dfull,
        // and small_q, read by every (p, r), gets the sum of dy_pqr * dOp/dsmall over them.
        autograd::record(op, {a, b}, y, [full, small, y, v] {
            middle_backward<Op, SmallIsA>(v, full, small, y.grad());
        });
    }
    return y;
}

// Op on any two shapes that broadcast together (index_map.hpp).
template <class Op>
Tensor broadcast_binary(const char* op, const Tensor& a, const Tensor& b) {
    const Shape out = index_map::broadcast_shape(op, a.shape(), b.shape());
    if (out == a.shape()) {
        if (const auto v = middle_broadcast(a.shape(), b.shape()))
            return middle_binary<Op, false>(op, a, b, *v);
    } else if (out == b.shape()) {
        if (const auto v = middle_broadcast(b.shape(), a.shape()))
            return middle_binary<Op, true>(op, a, b, *v);
    }
    const index_map::Dims n = index_map::padded(out);
    const index_map::Dims sa = index_map::broadcast_strides(a.shape());
    const index_map::Dims sb = index_map::broadcast_strides(b.shape());
    Tensor y = Tensor::empty(out);
    const float *ap = a.data(), *bp = b.data();
    float* yp = y.data();
    // A row at a time, so that the common cases (both operands contiguous along the row, or one
    // of them one value for the whole row) are simple loops.
    index_map::walk2_rows(
        n, sa, sb, [&](int64_t i, int64_t j, int64_t k, int64_t sj, int64_t sk, int64_t len) {
            float* yr = yp + i;
            const float *ar = ap + j, *br = bp + k;
            if (sj == 1 && sk == 1)
                for (int64_t d = 0; d < len; ++d) yr[d] = Op::value(ar[d], br[d]);
            else if (sj == 1 && sk == 0)
                for (int64_t d = 0; d < len; ++d) yr[d] = Op::value(ar[d], *br);
            else if (sj == 0 && sk == 1)
                for (int64_t d = 0; d < len; ++d) yr[d] = Op::value(*ar, br[d]);
            else
                for (int64_t d = 0; d < len; ++d) yr[d] = Op::value(ar[d * sj], br[d * sk]);
        });
    if (autograd::needs_grad({&a, &b})) {
        // y_i = Op(a_j(i), b_k(i)): a_j takes part in every y_i that reads it, so by the chain
        // rule dL/da_j = sum over those i of dy_i * dy/da at (a_j, b_k(i)); likewise for b.
        autograd::record(op, {a, b}, y, [a, b, y, n, sa, sb] {
            const float *dy = y.grad(), *av = a.data(), *bv = b.data();
            if (a.requires_grad())
                add_broadcast_grad(a, Input::a, n, sa, sb, [=](int64_t i, int64_t j, int64_t k) {
                    return Op::grad_a(dy[i], av[j], bv[k]);
                });
            if (b.requires_grad())
                add_broadcast_grad(b, Input::b, n, sa, sb, [=](int64_t i, int64_t j, int64_t k) {
                    return Op::grad_b(dy[i], av[j], bv[k]);
                });
        });
    }
    return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return broadcast_binary<AddOp>("add", a, b);
    Tensor y = Tensor::empty(a.shape());
    const int64_t n = y.numel();
    const float *ap = a.data(), *bp = b.data();
    float* yp = y.data();
    kernels::write_elements(yp, n, false, [=](int64_t i) { return ap[i] + bp[i]; });
    if (autograd::needs_grad({&a, &b})) {
        // y = a + b: dL/da = dy, dL/db = dy. a takes over dy's buffer as it is where it may
        // (take_output_grad: nothing is written into it), else gets a copy; b gets a copy.
        autograd::record("add", {a, b}, y, [a, b, y] {
            if (a.requires_grad() && !take_output_grad(a, y)) add_scaled_grad(a, 1.f, y.grad());
            if (b.requires_grad()) add_scaled_grad(b, 1.f, y.grad());
        });
    }
    return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return broadcast_binary<SubOp>("sub", a, b);
    Tensor y = Tensor::empty(a.shape());
    const int64_t n = y.numel();
    const float *ap = a.data(), *bp = b.data();
    float* yp = y.data();
    kernels::write_elements(yp, n, false, [=](int64_t i) { return ap[i] - bp[i]; });
    if (autograd::needs_grad({&a, &b})) {
        // y = a - b: dL/da = dy, dL/db = -dy (a's as in add).
        autograd::record("sub", {a, b}, y, [a, b, y] {
            if (a.requires_grad() && !take_output_grad(a, y)) add_scaled_grad(a, 1.f, y.grad());
            if (b.requires_grad()) add_scaled_grad(b, -1.f, y.grad());
        });
    }
    return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return broadcast_binary<MulOp>("mul", a, b);
    Tensor y = Tensor::empty(a.shape());
    const int64_t n = y.numel();
    const float *ap = a.data(), *bp = b.data();
    float* yp = y.data();
    kernels::write_elements(yp, n, false, [=](int64_t i) { return ap[i] * bp[i]; });
    if (autograd::needs_grad({&a, &b})) {
        // y = a * b: dL/da = dy * b, dL/db = dy * a (the product rule, elementwise). b's first,
        // into a buffer of its own: a's may then be written over dy (grad_buffer_over), which
        // b's loop must have read before.
        autograd::record("mul", {a, b}, y, [a, b, y, n] {
            const float* dy = y.grad();
            if (b.requires_grad()) {
                const float* av = a.data();
                write_grad(grad_buffer(b), n, [=](int64_t i) { return dy[i] * av[i]; });
            }
            if (a.requires_grad()) {
                const float* bv = b.data();
                write_grad(grad_buffer_over(a, y), n, [=](int64_t i) { return dy[i] * bv[i]; });
            }
        });
    }
    return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return broadcast_binary<DivOp>("div", a, b);
    return same_shape_binary<DivOp>("div", a, b);
}

Tensor add_scalar(const Tensor& x, float value) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = y.numel();
    const float* xp = x.data();
    float* yp = y.data();
    kernels::write_elements(yp, n, false, [=](int64_t i) { return xp[i] + value; });
    if (autograd::needs_grad({&x})) {
        // y = x + c: dL/dx = dy.
        autograd::record("add_scalar", {x}, y, [x, y] { add_scaled_grad(x, 1.f, y.grad()); });
    }
    return y;
}

Tensor scale(const Tensor& x, float factor) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = y.numel();
    const float* xp = x.data();
    float* yp = y.data();
    kernels::write_elements(yp, n, false, [=](int64_t i) { return factor * xp[i]; });
    if (autograd::needs_grad({&x})) {
        // y = c x: dL/dx = c dy.
        autograd::record("scale", {x}, y, [x, y, factor] { add_scaled_grad(x, factor, y.grad()); });
    }
    return y;
}

Tensor add_bias(const Tensor& x, const Tensor& b) {
    if ((x.rank() != 2 && x.rank() != 4) || b.rank() != 1 || b.dim(0) != x.dim(1))
        shape_error("add_bias", fmt::format("bias {} does not fit input {} (need input [N, C] or "
                                            "[N, C, H, W] and bias [C])",
                                            b.shape().str(), x.shape().str()));
    const int64_t N = x.dim(0), C = x.dim(1), inner = x.numel() / std::max<int64_t>(1, N * C);
    Tensor y = Tensor::empty(x.shape());
    const float *xp = x.data(), *bp = b.data();
    float* yp = y.data();
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) {
            const int64_t off = (n * C + c) * inner;
            for (int64_t i = 0; i < inner; ++i) yp[off + i] = xp[off + i] + bp[c];
        }
    if (autograd::needs_grad({&x, &b})) {
        // y[n, c, ...] = x[n, c, ...] + b[c]: dL/dx = dy; dL/db[c] = sum of dy over all but c.
        autograd::record("add_bias", {x, b}, y, [x, b, y, N, C, inner] {
            const float* dy = y.grad();
            if (x.requires_grad()) add_scaled_grad(x, 1.f, dy);
            if (b.requires_grad()) {
                float* db = b.mutable_grad();
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t c = 0; c < C; ++c) {
                        const float* row = dy + (n * C + c) * inner;
                        float s = 0.f;
#pragma omp simd reduction(+ : s)
                        for (int64_t i = 0; i < inner; ++i) s += row[i];
                        db[c] += s;
                    }
            }
        });
    }
    return y;
}

}  // namespace normgrad
