// Elementwise arithmetic: add, sub, mul, scale, and a per-channel bias add.
#include <fmt/format.h>

#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/elementwise.hpp"

namespace normgrad {

namespace {

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape())
        shape_error(op, fmt::format("shapes differ: {} and {}", a.shape().str(), b.shape().str()));
}

// The gradient of `t` gets factor * src, elementwise.
void add_scaled_grad(const Tensor& t, float factor, const float* src) {
    write_grad(grad_buffer(t), t.numel(), [=](int64_t i) { return factor * src[i]; });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
    check_same_shape("add", a, b);
    Tensor y = Tensor::empty(a.shape());
    const int64_t n = y.numel();
    const float *ap = a.data(), *bp = b.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = ap[i] + bp[i];
    if (autograd::needs_grad({&a, &b})) {
        // y = a + b: dL/da = dy, dL/db = dy.
        autograd::record("add", {a, b}, y, [a, b, y] {
            if (a.requires_grad()) add_scaled_grad(a, 1.f, y.grad());
            if (b.requires_grad()) add_scaled_grad(b, 1.f, y.grad());
        });
    }
    return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
    check_same_shape("sub", a, b);
    Tensor y = Tensor::empty(a.shape());
    const int64_t n = y.numel();
    const float *ap = a.data(), *bp = b.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = ap[i] - bp[i];
    if (autograd::needs_grad({&a, &b})) {
        // y = a - b: dL/da = dy, dL/db = -dy.
        autograd::record("sub", {a, b}, y, [a, b, y] {
            if (a.requires_grad()) add_scaled_grad(a, 1.f, y.grad());
            if (b.requires_grad()) add_scaled_grad(b, -1.f, y.grad());
        });
    }
    return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
    check_same_shape("mul", a, b);
    Tensor y = Tensor::empty(a.shape());
    const int64_t n = y.numel();
    const float *ap = a.data(), *bp = b.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = ap[i] * bp[i];
    if (autograd::needs_grad({&a, &b})) {
        // y = a * b: dL/da = dy * b, dL/db = dy * a (the product rule, elementwise).
        autograd::record("mul", {a, b}, y, [a, b, y, n] {
            const float* dy = y.grad();
            if (a.requires_grad()) {
                const float* bv = b.data();
                write_grad(grad_buffer(a), n, [=](int64_t i) { return dy[i] * bv[i]; });
            }
            if (b.requires_grad()) {
                const float* av = a.data();
                write_grad(grad_buffer(b), n, [=](int64_t i) { return dy[i] * av[i]; });
            }
        });
    }
    return y;
}

Tensor scale(const Tensor& x, float factor) {
    Tensor y = Tensor::empty(x.shape());
    const int64_t n = y.numel();
    const float* xp = x.data();
    float* yp = y.data();
    for (int64_t i = 0; i < n; ++i) yp[i] = factor * xp[i];
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
