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
// the forward pass, and g passed through add's record, which this one saves. The sums are those
// of mul's and add's backward (rows of R in float, added in double, in a fixed order): the
// same whatever the number of threads. Other shapes go through add(mul(x, w), b).
#include "normgrad/ops/multiply_add.hpp"

#include <vector>

#include "kernels/grad_buffer.hpp"
#include "kernels/parallel.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/elementwise.hpp"
#include "ops/middle_broadcast.hpp"

namespace normgrad {

namespace {

using detail::MiddleBroadcast;

void forward(const MiddleBroadcast& v, const float* x, const float* w, const float* b, float* y) {
    if (v.R == 1) {  // rows of Q values, w and b along them (LayerNorm)
#pragma omp parallel for schedule(static) if (v.P * v.Q >= kernels::kMinParallelElements)
        for (int64_t p = 0; p < v.P; ++p) {
            const float* xr = x + p * v.Q;
            float* yr = y + p * v.Q;
#pragma omp simd
            for (int64_t q = 0; q < v.Q; ++q) yr[q] = xr[q] * w[q] + b[q];
        }
        return;
    }
    const int64_t rows = v.P * v.Q;  // rows of R values sharing one w and b (GroupNorm's channels)
#pragma omp parallel for schedule(static) if (rows * v.R >= kernels::kMinParallelElements)
    for (int64_t row = 0; row < rows; ++row) {
        const float s = w[row % v.Q], t = b[row % v.Q];
        const float* xr = x + row * v.R;
        float* yr = y + row * v.R;
#pragma omp simd
        for (int64_t r = 0; r < v.R; ++r) yr[r] = xr[r] * s + t;
    }
}

void backward(const MiddleBroadcast& v, const Tensor& x, const Tensor& w, const Tensor& b,
              const float* g) {
    const float *xv = x.data(), *wv = w.data();
    const int64_t rows = v.P * v.Q;
    const bool parallel = rows * v.R >= kernels::kMinParallelElements;
    if (x.requires_grad()) {  // dx = g * w, along rows of Q values (R = 1) or of R values
        const GradBuffer dx = grad_buffer(x);
        const bool along_q = v.R == 1;
        const int64_t n_rows = along_q ? v.P : rows, len = along_q ? v.Q : v.R;
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t row = 0; row < n_rows; ++row) {
            const float* gr = g + row * len;
            float* out = dx.data + row * len;
            if (along_q) {  // each element its own w[q]
                kernels::write_range_baseline(out, 0, len, dx.accumulate,
                                              [gr, wv](int64_t q) { return gr[q] * wv[q]; });
            } else {  // the row shares one w
                const float s = wv[row % v.Q];
                kernels::write_range_baseline(out, 0, len, dx.accumulate,
                                              [gr, s](int64_t r) { return gr[r] * s; });
            }
        }
    }
    if (!w.requires_grad() && !b.requires_grad()) return;
    std::vector<double> sw(static_cast<size_t>(v.Q), 0.0), sb(static_cast<size_t>(v.Q), 0.0);
    double *swp = sw.data(), *sbp = sb.data();
    if (v.R == 1) {
        detail::for_rows_by_column_ranges(v, parallel, [=](int64_t p, int64_t lo, int64_t hi) {
            const float *gr = g + p * v.Q, *xr = xv + p * v.Q;
            double *aw = swp, *ab = sbp;
#pragma omp simd
            for (int64_t q = lo; q < hi; ++q) {
                aw[q] += gr[q] * xr[q];
                ab[q] += gr[q];
            }
        });
    } else {
#pragma omp parallel for schedule(static) if (parallel && v.Q > 1)
        for (int64_t q = 0; q < v.Q; ++q) {
            double tw = 0.0, tb = 0.0;
            for (int64_t p = 0; p < v.P; ++p) {
                const int64_t o = (p * v.Q + q) * v.R;
                const float *gr = g + o, *xr = xv + o;
                float rw = 0.f, rb = 0.f;
#pragma omp simd reduction(+ : rw, rb)
                for (int64_t r = 0; r < v.R; ++r) {
                    rw += gr[r] * xr[r];
                    rb += gr[r];
                }
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
                         [x, w, b, y, v = *v] { backward(v, x, w, b, y.grad()); });
    return y;
}

}  // namespace normgrad
