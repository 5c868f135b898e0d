// 2-D convolution (cross-correlation, as in every framework) by im2col + one GEMM per batch.
#include <fmt/format.h>

#include "kernels/gemm.hpp"
#include "kernels/im2col.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"

namespace normgrad {

using kernels::ConvGeometry;
using kernels::gemm;

namespace {

ConvGeometry geometry(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dParams p) {
    if (x.rank() != 4 || w.rank() != 4 || x.dim(1) != w.dim(1))
        shape_error("conv2d", fmt::format("input {} does not fit weight {} (need input [N, C, H, "
                                          "W] and weight [O, C, kH, kW])",
                                          x.shape().str(), w.shape().str()));
    if (b.defined() && (b.rank() != 1 || b.dim(0) != w.dim(0)))
        shape_error("conv2d", fmt::format("bias {} does not fit weight {} (need bias [{}])",
                                          b.shape().str(), w.shape().str(), w.dim(0)));
    if (p.stride < 1 || p.padding < 0)
        shape_error("conv2d", fmt::format("stride must be >= 1 and padding >= 0, got stride {} "
                                          "padding {}",
                                          p.stride, p.padding));
    ConvGeometry g{x.dim(0), x.dim(1), x.dim(2),  x.dim(3), w.dim(2),
                   w.dim(3), p.stride, p.padding, 0,        0};
    const int64_t eh = g.H + 2 * g.padding - g.kH, ew = g.W + 2 * g.padding - g.kW;
    if (eh < 0 || ew < 0)
        shape_error("conv2d", fmt::format("kernel {}x{} is larger than the padded input {}x{}",
                                          g.kH, g.kW, g.H + 2 * g.padding, g.W + 2 * g.padding));
    g.OH = eh / g.stride + 1;
    g.OW = ew / g.stride + 1;
    return g;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dParams p) {
    const ConvGeometry g = geometry(x, w, b, p);
    const int64_t O = w.dim(0), P = g.OH * g.OW, K = g.rows(), NP = g.cols();

    // cols [K, N*P] holds every receptive field; out [O, N*P] = w [O, K] x cols.
    Tensor cols = Tensor::empty({K, NP});
    kernels::im2col(g, x.data(), cols.data());
    Tensor out = Tensor::empty({O, NP});
    gemm(false, false, O, NP, K, 1.f, w.data(), cols.data(), 0.f, out.data());

    // Reorder [O, N, P] -> [N, O, P] and add the bias.
    Tensor y = Tensor::empty({g.N, O, g.OH, g.OW});
    {
        const float* src = out.data();
        const float* bp = b.defined() ? b.data() : nullptr;
        float* dst = y.data();
#pragma omp parallel for collapse(2) schedule(static) if (O * NP > 32768)
        for (int64_t n = 0; n < g.N; ++n)
            for (int64_t o = 0; o < O; ++o) {
                const float bias = bp ? bp[o] : 0.f;
                const float* s = src + o * NP + n * P;
                float* d = dst + (n * O + o) * P;
                for (int64_t i = 0; i < P; ++i) d[i] = s[i] + bias;
            }
    }

    if (autograd::needs_grad({&x, &w, &b})) {
        // With dout [O, N*P] the output gradient in GEMM layout:
        //   out = w cols          => dL/dw = dout cols^T    ([O, N*P] x [N*P, K])
        //                            dL/dcols = w^T dout    ([K, O] x [O, N*P])
        //   cols = im2col(x)      => dL/dx = col2im(dL/dcols) (each pixel sums the columns it fed)
        //   y[n, o, :] += b[o]    => dL/db[o] = sum of dy over n and pixels
        autograd::record("conv2d", {x, w, b}, y, [x, w, b, y, cols, g, O, P, K, NP] {
            Tensor dout = Tensor::empty({O, NP});
            const float* dy = y.grad();
            float* d = dout.data();
#pragma omp parallel for collapse(2) schedule(static) if (O * NP > 32768)
            for (int64_t n = 0; n < g.N; ++n)
                for (int64_t o = 0; o < O; ++o) {
                    const float* s = dy + (n * O + o) * P;
                    float* t = d + o * NP + n * P;
                    for (int64_t i = 0; i < P; ++i) t[i] = s[i];
                }
            if (b.requires_grad()) {
                float* db = b.mutable_grad();
                for (int64_t o = 0; o < O; ++o) {
                    double s = 0.0;
                    for (int64_t i = 0; i < NP; ++i) s += d[o * NP + i];
                    db[o] += static_cast<float>(s);
                }
            }
            if (w.requires_grad())
                gemm(false, true, O, K, NP, 1.f, d, cols.data(), 1.f, w.mutable_grad());
            if (x.requires_grad()) {
                Tensor dcols = Tensor::empty({K, NP});
                gemm(true, false, K, NP, O, 1.f, w.data(), d, 0.f, dcols.data());
                kernels::col2im_add(g, dcols.data(), x.mutable_grad());
            }
        });
    }
    return y;
}

}  // namespace normgrad
