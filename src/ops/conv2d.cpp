// 2-D convolution (cross-correlation, as in every framework): by im2col and a matrix product per
// image, or by Winograd's F(2x2, 3x3) for 3x3 kernels with stride 1 (src/kernels/winograd.hpp).
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/grad_buffer.hpp"
#include "kernels/im2col.hpp"
#include "kernels/reductions.hpp"
#include "kernels/small_gemm.hpp"
#include "kernels/winograd.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/conv2d.hpp"

namespace normgrad {

using kernels::ConvGeometry;

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

bool use_winograd(const ConvGeometry& g, ConvAlgorithm a) {
    if (a == ConvAlgorithm::Winograd) {
        if (!kernels::winograd_supports(g))
            throw std::invalid_argument(fmt::format(
                "conv2d: the Winograd algorithm needs a 3x3 kernel and stride 1, got {}x{} "
                "stride {}",
                g.kH, g.kW, g.stride));
        return true;
    }
    // With few input channels the im2col matrix is short (C * 9 rows) and its product is done
    // by the small-matrix kernel, faster than Winograd's 16 very thin products.
    return a == ConvAlgorithm::Auto && kernels::winograd_supports(g) &&
           g.rows() > kernels::kSmallGemmMaxK;
}

int threads_for(int64_t images) {
    return static_cast<int>(std::min<int64_t>(omp_in_parallel() ? 1 : omp_get_max_threads(),
                                              std::max<int64_t>(1, images)));
}

// ---- im2col, one image at a time ----
// cols [K, P] holds image n's receptive fields (K = C kH kW rows, P = OH OW columns), so
//   y[n] = w [O, K] x cols [K, P] + b,
// written straight into y's [O, P] plane of image n. A thread's cols stays in cache.

void im2col_forward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                    const float* b, float* y) {
    const int64_t K = g.rows(), P = g.OH * g.OW, image = g.C * g.H * g.W;
    ConvGeometry one = g;
    one.N = 1;
    const int threads = threads_for(g.N);
    const auto work = Storage::make(size_t(threads * K * P));
#pragma omp parallel num_threads(threads)
    {
        const kernels::ProductsScope products;  // one product an image: the signals held once
#pragma omp for schedule(static)
        for (int64_t n = 0; n < g.N; ++n) {
            float* cols = work->data() + omp_get_thread_num() * K * P;
            kernels::im2col(one, x + n * image, cols);
            float* yn = y + n * O * P;
            if (K <= kernels::kSmallGemmMaxK) {
                kernels::gemm_small_k(O, P, K, w, cols, b, yn);
            } else {
                kernels::gemm_serial(false, false, O, P, K, 1.f, w, K, cols, P, 0.f, yn, P);
                if (b)
                    for (int64_t o = 0; o < O; ++o)
                        for (int64_t i = 0; i < P; ++i) yn[o * P + i] += b[o];
            }
        }
    }
}

// With dy[n] [O, P] the output gradient of image n:
//   y[n] = w cols + b     =>  dL/dw += dy[n] cols^T   ([O, P] x [P, K]), summed over images
//                             dL/db[o] += sum of dy[n, o, :]
//                             dL/dcols = w^T dy[n]    ([K, O] x [O, P])
//   cols = im2col(x[n])   =>  dL/dx[n] = col2im(dL/dcols)  (each pixel sums the columns it fed)
void im2col_backward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                     const float* dy, GradBuffer dw, GradBuffer db, GradBuffer dx) {
    const int64_t K = g.rows(), P = g.OH * g.OW, image = g.C * g.H * g.W;
    ConvGeometry one = g;
    one.N = 1;
    const int threads = threads_for(g.N);
    // Per thread: cols [K, P], dcols [K, P], and its share of dw [O, K].
    const int64_t per_thread = 2 * K * P + O * K;
    const auto work = Storage::make(size_t(threads * per_thread));
    std::vector<double> db_shares(size_t(threads * O), 0.0);
#pragma omp parallel num_threads(threads)
    {
        float* cols = work->data() + omp_get_thread_num() * per_thread;
        float* dcols = cols + K * P;
        float* dw_share = dcols + K * P;
        std::fill(dw_share, dw_share + O * K, 0.f);
        const kernels::ProductsScope products;  // two products an image: the signals held once
#pragma omp for schedule(static)
        for (int64_t n = 0; n < g.N; ++n) {
            const float* dyn = dy + n * O * P;
            if (dw.data) {
                kernels::im2col(one, x + n * image, cols);
                if (K <= kernels::kSmallGemmMaxK)
                    kernels::gemm_dot_small(O, K, P, dyn, cols, dw_share, true);
                else
                    kernels::gemm_serial(false, true, O, K, P, 1.f, dyn, P, cols, P, 1.f, dw_share,
                                         K);
            }
            if (db.data) {  // dy[n] was just read, so it is still in cache
                double* db_share = db_shares.data() + omp_get_thread_num() * O;
                for (int64_t o = 0; o < O; ++o) db_share[o] += kernels::row_sum(dyn + o * P, P);
            }
            if (dx.data) {
                kernels::gemm_serial(true, false, K, P, O, 1.f, w, K, dyn, P, 0.f, dcols, P);
                float* dxn = dx.data + n * image;
                if (!dx.accumulate) std::fill(dxn, dxn + image, 0.f);
                kernels::col2im_add(one, dcols, dxn);
            }
        }
    }
    if (db.data) kernels::add_bias_shares(db_shares, threads, O, db);
    if (!dw.data) return;
    // The threads' shares, summed in a fixed order.
    for (int64_t i = 0; i < O * K; ++i) {
        float s = 0.f;
        for (int t = 0; t < threads; ++t) s += work->data()[t * per_thread + 2 * K * P + i];
        dw.data[i] = dw.accumulate ? dw.data[i] + s : s;
    }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dParams p) {
    const ConvGeometry g = geometry(x, w, b, p);
    const int64_t O = w.dim(0);
    const bool winograd = use_winograd(g, p.algorithm);
    Tensor y = Tensor::empty({g.N, O, g.OH, g.OW});
    const float* bp = b.defined() ? b.data() : nullptr;
    if (winograd)
        kernels::winograd_forward(g, O, x.data(), w.data(), bp, y.data());
    else
        im2col_forward(g, O, x.data(), w.data(), bp, y.data());

    if (autograd::needs_grad({&x, &w, &b})) {
        // The backward math of each algorithm is beside its code: im2col_backward above,
        // src/kernels/winograd.hpp for Winograd. Both compute exactly the gradients of the
        // convolution (up to rounding); the bias gradient is the sum of dy either way.
        autograd::record("conv2d", {x, w, b}, y, [x, w, b, y, g, O, winograd] {
            const float* dy = y.grad();
            const GradBuffer none{nullptr, false};
            const GradBuffer dw = w.requires_grad() ? grad_buffer(w) : none;
            const GradBuffer db = b.requires_grad() ? grad_buffer(b) : none;
            const GradBuffer dx = x.requires_grad() ? grad_buffer(x) : none;
            if (winograd)
                kernels::winograd_backward(g, O, x.data(), w.data(), dy, dw, db, dx);
            else
                im2col_backward(g, O, x.data(), w.data(), dy, dw, db, dx);
        });
    }
    return y;
}

}  // namespace normgrad
