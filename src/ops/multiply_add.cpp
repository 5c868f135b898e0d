// x * w + b in one record: the elementwise affine step of LayerNorm and GroupNorm (gamma, beta).
//
// With w and b of one shape holding one value per index q of a block of x's axes (x viewed as
// [P, Q, R], ops/middle_broadcast.hpp):
//
//   y[p, q, r] = x[p, q, r] * w[q] + b[q]
//
// ---- Backward ----
// With g = dL/dy, each x[p, q, r] reaches the loss through its own y alone, and each w[q], b[q]
// through every y[p, q, r] of its index:
//   dL/dx[p, q, r] = g[p, q, r] * w[q]
//   dL/dw[q]       = sum over p, r of g[p, q, r] * x[p, q, r]
//   dL/db[q]       = sum over p, r of g[p, q, r]
// mul then add compute the same in two records: a result of x's size written and read again in
// the forward pass, and g passed through add's record, which this one saves. The sums are taken
// as mul's and add's backward take them (rows of R in float, added in double, in a fixed order),
// except that with R = 1 each column adds its rows in groups of 8 in float before adding them
// in double: the same whatever the number of threads. Other shapes go through
// add(mul(x, w), b). The loops are compiled for each instruction set (kernels/isa.hpp).
#include "normgrad/ops/multiply_add.hpp"

#include <vector>

#include "kernels/grad_buffer.hpp"
#include "kernels/isa.hpp"
#include "kernels/parallel.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "ops/middle_broadcast.hpp"
#include "ops/output_grad.hpp"

namespace normgrad {

namespace {

using detail::MiddleBroadcast;

// ---- The loops, in the three builds of kernels/isa.hpp ----

// y[i] = x[i] * w[i] + b[i]: a row of Q values, each with its own w and b (LayerNorm).
NORMGRAD_INLINE void affine_row_body(const float* x, const float* w, const float* b, float* y,
                                     int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * w[i] + b[i];
}
NORMGRAD_KERNEL(void, affine_row,
                (const float* x, const float* w, const float* b, float* y, int64_t n),
                affine_row_body, (x, w, b, y, n))

// y[i] = x[i] * s + t: a row of R values sharing one w and b (GroupNorm's channels).
NORMGRAD_INLINE void scale_shift_row_body(const float* x, float s, float t, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s + t;
}
NORMGRAD_KERNEL(void, scale_shift_row, (const float* x, float s, float t, float* y, int64_t n),
                scale_shift_row_body, (x, s, t, y, n))

// How a sums kernel below also writes x's gradient dx = g * w, read from the same g in the same
// pass: not at all, written, or added.
enum class Dx { none, write, add };
template <Dx D>
NORMGRAD_INLINE void put_dx(float* dx, int64_t i, float v) {
    if (D == Dx::write) dx[i] = v;
    if (D == Dx::add) dx[i] += v;
}

// For w's and b's gradients along rows of Q values (R = 1): for each column q in [lo, hi),
// sw[q] += sum over the `rows` rows of g x, and sb[q] += the sum of g, the rows Q apart (and dx
// as D asks). A column's rows are summed in float, then added to its double sum: one pass over
// sw and sb per group of rows rather than per row.
constexpr int64_t kRowGroup = 8;
template <int64_t G, Dx D>  // G rows (a constant, so that the loop over them is written out)
NORMGRAD_INLINE void column_sums_of(const float* g, const float* x, const float* w, float* dx,
                                    int64_t Q, int64_t lo, int64_t hi, double* sw, double* sb) {
#pragma omp simd
    for (int64_t q = lo; q < hi; ++q) {
        float tw = 0.f, tb = 0.f;
        for (int64_t p = 0; p < G; ++p) {
            const float gv = g[p * Q + q];  // read before dx there, which may be written over it
            put_dx<D>(dx, p * Q + q, gv * w[q]);
            tw += gv * x[p * Q + q];
            tb += gv;
        }
        sw[q] += tw;
        sb[q] += tb;
    }
}
template <Dx D>
NORMGRAD_INLINE void column_sums_as(const float* g, const float* x, const float* w, float* dx,
                                    int64_t rows, int64_t Q, int64_t lo, int64_t hi, double* sw,
                                    double* sb) {
    if (rows == kRowGroup) return column_sums_of<kRowGroup, D>(g, x, w, dx, Q, lo, hi, sw, sb);
    for (int64_t p = 0; p < rows; ++p)  // the last, shorter group: row by row
        column_sums_of<1, D>(g + p * Q, x + p * Q, w, dx ? dx + p * Q : dx, Q, lo, hi, sw, sb);
}
// dx null: no dx.
NORMGRAD_INLINE void column_sums_body(const float* g, const float* x, const float* w, float* dx,
                                      bool accumulate, int64_t rows, int64_t Q, int64_t lo,
                                      int64_t hi, double* sw, double* sb) {
    if (!dx) return column_sums_as<Dx::none>(g, x, w, dx, rows, Q, lo, hi, sw, sb);
    if (accumulate) return column_sums_as<Dx::add>(g, x, w, dx, rows, Q, lo, hi, sw, sb);
    column_sums_as<Dx::write>(g, x, w, dx, rows, Q, lo, hi, sw, sb);
}
NORMGRAD_KERNEL(void, column_sums,
                (const float* g, const float* x, const float* w, float* dx, bool accumulate,
                 int64_t rows, int64_t Q, int64_t lo, int64_t hi, double* sw, double* sb),
                column_sums_body, (g, x, w, dx, accumulate, rows, Q, lo, hi, sw, sb))

// The sums of g x and of g over one row of R values sharing one w = s (and dx = g s, as D asks).
template <Dx D>
NORMGRAD_INLINE void row_sums_as(const float* g, const float* x, int64_t n, float s, float* dx,
                                 float* gx, float* gs) {
    float rw = 0.f, rb = 0.f;
#pragma omp simd reduction(+ : rw, rb)
    for (int64_t r = 0; r < n; ++r) {
        const float gv = g[r];  // read before dx[r], which may be written over it
        put_dx<D>(dx, r, gv * s);
        rw += gv * x[r];
        rb += gv;
    }
    *gx = rw;
    *gs = rb;
}
NORMGRAD_INLINE void row_sums_body(const float* g, const float* x, int64_t n, float s, float* dx,
                                   bool accumulate, float* gx, float* gs) {
    if (!dx) return row_sums_as<Dx::none>(g, x, n, s, dx, gx, gs);
    if (accumulate) return row_sums_as<Dx::add>(g, x, n, s, dx, gx, gs);
    row_sums_as<Dx::write>(g, x, n, s, dx, gx, gs);
}
NORMGRAD_KERNEL(void, row_sums,
                (const float* g, const float* x, int64_t n, float s, float* dx, bool accumulate,
                 float* gx, float* gs),
                row_sums_body, (g, x, n, s, dx, accumulate, gx, gs))

void forward(const MiddleBroadcast& v, const float* x, const float* w, const float* b, float* y) {
    if (v.R == 1) {  // rows of Q values, w and b along them (LayerNorm)
#pragma omp parallel for schedule(static) if (v.P * v.Q >= kernels::min_parallel_elements())
        for (int64_t p = 0; p < v.P; ++p) affine_row(x + p * v.Q, w, b, y + p * v.Q, v.Q);
        return;
    }
    const int64_t rows = v.P * v.Q;  // rows of R values sharing one w and b (GroupNorm's channels)
#pragma omp parallel for schedule(static) if (rows * v.R >= kernels::min_parallel_elements())
    for (int64_t row = 0; row < rows; ++row)
        scale_shift_row(x + row * v.R, w[row % v.Q], b[row % v.Q], y + row * v.R, v.R);
}

// g is y's gradient. dx[i] comes from g[i] and w alone, read before it is written, so x may take
// over g's buffer and have dx written over it (ops/output_grad.hpp), in both branches below.
void backward(const MiddleBroadcast& v, const Tensor& x, const Tensor& w, const Tensor& b,
              const Tensor& y) {
    const float *xv = x.data(), *wv = w.data(), *g = y.grad();
    const int64_t rows = v.P * v.Q;
    const bool parallel = rows * v.R >= kernels::min_parallel_elements();
    const bool sums = w.requires_grad() || b.requires_grad();
    if (x.requires_grad() && !sums) {  // dx = g * w alone, along rows of Q values or of R values
        const GradBuffer dx = grad_buffer_over(x, y);
        const bool along_q = v.R == 1;
        const int64_t n_rows = along_q ? v.P : rows, len = along_q ? v.Q : v.R;
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t row = 0; row < n_rows; ++row) {
            const float* gr = g + row * len;
            float* out = dx.data + row * len;
            if (along_q) {  // each element its own w[q]
                kernels::write_range(out, 0, len, dx.accumulate,
                                     [gr, wv](int64_t q) { return gr[q] * wv[q]; });
            } else {  // the row shares one w
                const float s = wv[row % v.Q];
                kernels::write_range(out, 0, len, dx.accumulate,
                                     [gr, s](int64_t r) { return gr[r] * s; });
            }
        }
        return;
    }
    if (!sums) return;
    // The sums for dw and db, and dx = g * w in the same pass over g where x wants it.
    const GradBuffer dx = x.requires_grad() ? grad_buffer_over(x, y) : GradBuffer{nullptr, false};
    float* dxp = dx.data;
    const bool acc = dx.accumulate;
    std::vector<double> sw(static_cast<size_t>(v.Q), 0.0), sb(static_cast<size_t>(v.Q), 0.0);
    double *swp = sw.data(), *sbp = sb.data();
    if (v.R == 1) {
        detail::for_row_groups_by_column_ranges(
            v, parallel, kRowGroup, [=](int64_t p0, int64_t p1, int64_t lo, int64_t hi) {
                column_sums(g + p0 * v.Q, xv + p0 * v.Q, wv, dxp ? dxp + p0 * v.Q : dxp, acc,
                            p1 - p0, v.Q, lo, hi, swp, sbp);
            });
    } else {
#pragma omp parallel for schedule(static) if (parallel && v.Q > 1)
        for (int64_t q = 0; q < v.Q; ++q) {
            double tw = 0.0, tb = 0.0;
            for (int64_t p = 0; p < v.P; ++p) {
                const int64_t o = (p * v.Q + q) * v.R;
                float rw = 0.f, rb = 0.f;
                row_sums(g + o, xv + o, v.R, wv[q], dxp ? dxp + o : dxp, acc, &rw, &rb);
                tw += rw;
                tb += rb;
            }
            swp[q] = tw;
            sbp[q] = tb;
        }
    }
    if (w.requires_grad())
        write_grad(grad_buffer(w), v.Q, [=](int64_t q) { return static_cast<float>(swp[q]); });
    if (b.requires_grad())
        write_grad(grad_buffer(b), v.Q, [=](int64_t q) { return static_cast<float>(sbp[q]); });
}

}  // namespace

Tensor multiply_add(const Tensor& x, const Tensor& w, const Tensor& b) {
    const auto v =
        w.shape() == b.shape() ? detail::middle_broadcast(x.shape(), w.shape()) : std::nullopt;
    if (!v) return add(mul(x, w), b);  // any other broadcast, and its errors
    Tensor y = Tensor::empty(x.shape());
    forward(*v, x.data(), w.data(), b.data(), y.data());
    if (autograd::needs_grad({&x, &w, &b}))
        autograd::record("multiply_add", {x, w, b}, y,
                         [x, w, b, y, v = *v] { backward(v, x, w, b, y); });
    return y;
}

}  // namespace normgrad
