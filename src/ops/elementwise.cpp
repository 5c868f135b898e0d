// Elementwise arithmetic: add, sub, mul, scale, and a per-channel bias add.
#include <fmt/format.h>

#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"

namespace normgrad {

namespace {

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape())
        shape_error(op, fmt::format("shapes differ: {} and {}", a.shape().str(), b.shape().str()));
}

// dst += factor * src, elementwise.
void axpy(int64_t n, float factor, const float* src, float* dst) {
    for (int64_t i = 0; i < n; ++i) dst[i] += factor * src[i];
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
        autograd::record("add", {a, b}, y, [a, b, y, n] {
            if (a.requires_grad()) axpy(n, 1.f, y.grad(), a.mutable_grad());
            if (b.requires_grad()) axpy(n, 1.f, y.grad(), b.mutable_grad());
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
        autograd::record("sub", {a, b}, y, [a, b, y, n] {
            if (a.requires_grad()) axpy(n, 1.f, y.grad(), a.mutable_grad());
            if (b.requires_grad()) axpy(n, -1.f, y.grad(), b.mutable_grad());
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
                float* da = a.mutable_grad();
                const float* bv = b.data();
                for (int64_t i = 0; i < n; ++i) da[i] += dy[i] * bv[i];
            }
            if (b.requires_grad()) {
                float* db = b.mutable_grad();
                const float* av = a.data();
                for (int64_t i = 0; i < n; ++i) db[i] += dy[i] * av[i];
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
        autograd::record("scale", {x}, y,
                         [x, y, n, factor] { axpy(n, factor, y.grad(), x.mutable_grad()); });
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
            if (x.requires_grad()) axpy(x.numel(), 1.f, dy, x.mutable_grad());
            if (b.requires_grad()) {
                float* db = b.mutable_grad();
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t c = 0; c < C; ++c) {
                        const float* row = dy + (n * C + c) * inner;
                        float s = 0.f;
                        for (int64_t i = 0; i < inner; ++i) s += row[i];
                        db[c] += s;
                    }
            }
        });
    }
    return y;
}

}  // namespace normgrad
