// Matrix products: matmul and linear (the dense layer's y = x w^T + b).
#include <fmt/format.h>

#include <algorithm>

#include "kernels/gemm.hpp"
#include "kernels/grad_buffer.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/matmul.hpp"

namespace normgrad {

using kernels::gemm;

Tensor matmul(const Tensor& a, const Tensor& b) {
    if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0))
        shape_error("matmul", fmt::format("cannot multiply {} by {} (need [M, K] x [K, N])",
                                          a.shape().str(), b.shape().str()));
    const int64_t M = a.dim(0), K = a.dim(1), N = b.dim(1);
    Tensor c = Tensor::empty({M, N});
    gemm(false, false, M, N, K, 1.f, a.data(), b.data(), 0.f, c.data());

    if (autograd::needs_grad({&a, &b})) {
        // C = A B, so dL/dA = dC B^T  ([M, N] x [N, K])  and  dL/dB = A^T dC  ([K, M] x [M, N]).
        // beta = 1 accumulates into a gradient the input already holds; beta = 0 writes the first.
        autograd::record("matmul", {a, b}, c, [a, b, c, M, N, K] {
            if (a.requires_grad()) {
                const GradBuffer da = grad_buffer(a);
                gemm(false, true, M, K, N, 1.f, c.grad(), b.data(), da.beta(), da.data);
            }
            if (b.requires_grad()) {
                const GradBuffer db = grad_buffer(b);
                gemm(true, false, K, N, M, 1.f, a.data(), c.grad(), db.beta(), db.data);
            }
        });
    }
    return c;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
    if (x.rank() != 2 || w.rank() != 2 || x.dim(1) != w.dim(1))
        shape_error("linear",
                    fmt::format("input {} does not fit weight {} (need input [N, in], weight "
                                "[out, in])",
                                x.shape().str(), w.shape().str()));
    const int64_t N = x.dim(0), in = x.dim(1), out = w.dim(0);
    if (b.defined() && (b.rank() != 1 || b.dim(0) != out))
        shape_error("linear", fmt::format("bias {} does not fit weight {} (need bias [{}])",
                                          b.shape().str(), w.shape().str(), out));
    Tensor y = Tensor::empty({N, out});
    float* yp = y.data();
    if (b.defined()) {  // start from the bias in every row, then add x w^T onto it
        const float* bp = b.data();
        for (int64_t n = 0; n < N; ++n) std::copy(bp, bp + out, yp + n * out);
    }
    gemm(false, true, N, out, in, 1.f, x.data(), w.data(), b.defined() ? 1.f : 0.f, yp);

    if (autograd::needs_grad({&x, &w, &b})) {
        // y[n, o] = sum_i x[n, i] w[o, i] + b[o]
        //   dL/dx = dy w        ([N, out] x [out, in])
        //   dL/dw = dy^T x      ([out, N] x [N, in])
        //   dL/db[o] = sum_n dy[n, o]
        autograd::record("linear", {x, w, b}, y, [x, w, b, y, N, in, out] {
            const float* dy = y.grad();
            if (x.requires_grad()) {
                const GradBuffer dx = grad_buffer(x);
                gemm(false, false, N, in, out, 1.f, dy, w.data(), dx.beta(), dx.data);
            }
            if (w.requires_grad()) {
                const GradBuffer dw = grad_buffer(w);
                gemm(true, false, out, in, N, 1.f, dy, x.data(), dw.beta(), dw.data);
            }
            if (b.requires_grad()) {  // row by row, so the inner loop runs along memory
                const GradBuffer db = grad_buffer(b);
                if (!db.accumulate) std::fill(db.data, db.data + out, 0.f);
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t o = 0; o < out; ++o) db.data[o] += dy[n * out + o];
            }
        });
    }
    return y;
}

}  // namespace normgrad
