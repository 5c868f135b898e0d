// 2-D average pooling, and its global form (the mean over each channel's whole plane).
//
// Padding counts as zeros in the mean, as PyTorch's default count_include_pad=True: every window
// is divided by kernel * kernel, however many of its cells lie in the padding. (With padding at
// most kernel / 2 and no ceil mode, no window reaches past the padded border, so PyTorch's
// divisor is kernel * kernel for every window too.)
#include <fmt/format.h>

#include <algorithm>

#include "kernels/grad_buffer.hpp"
#include "kernels/parallel.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/avg_pool2d.hpp"

namespace normgrad {

namespace {

// The rows (or columns) of the input that window `o` covers, clipped to the unpadded input:
// [begin, end). The cells outside are padding (zeros), which add nothing to the sum.
struct Span {
    int64_t begin, end;
};
inline Span window(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t size) {
    const int64_t start = o * stride - pad;
    return {std::max<int64_t>(start, 0), std::min(start + kernel, size)};
}

}  // namespace

Tensor avg_pool2d(const Tensor& x, Pool2dParams p) {
    const int64_t k = p.kernel, s = p.stride == 0 ? p.kernel : p.stride, pad = p.padding;
    if (x.rank() != 4)
        shape_error("avg_pool2d", fmt::format("needs input [N, C, H, W], got {}", x.shape().str()));
    if (k < 1 || s < 1 || pad < 0 || pad > k / 2)
        shape_error("avg_pool2d", fmt::format("kernel {} stride {} padding {}: need kernel >= 1, "
                                              "stride >= 1 and 0 <= padding <= kernel / 2",
                                              k, s, pad));
    const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
    if (H + 2 * pad < k || W + 2 * pad < k)
        shape_error("avg_pool2d", fmt::format("kernel {} is larger than the padded input {}", k,
                                              x.shape().str()));
    const int64_t OH = (H + 2 * pad - k) / s + 1, OW = (W + 2 * pad - k) / s + 1;
    const float inv_area = 1.f / static_cast<float>(k * k);
    Tensor y = Tensor::empty({N, C, OH, OW});

    const float* xp = x.data();
    float* yp = y.data();
#pragma omp parallel for schedule(static) if (N * C * H * W >= kernels::min_parallel_elements())
    for (int64_t plane = 0; plane < N * C; ++plane) {
        const float* in = xp + plane * H * W;
        float* out = yp + plane * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
            const Span rows = window(oh, s, pad, k, H);
            for (int64_t ow = 0; ow < OW; ++ow) {
                const Span cols = window(ow, s, pad, k, W);
                float sum = 0.f;
                for (int64_t ih = rows.begin; ih < rows.end; ++ih)
                    for (int64_t iw = cols.begin; iw < cols.end; ++iw) sum += in[ih * W + iw];
                out[oh * OW + ow] = sum * inv_area;
            }
        }
    }

    if (autograd::needs_grad({&x})) {
        // y[o] = (1 / k^2) * sum of x[i] over the inputs i in window o (padding adds zeros).
        // So dy[o]/dx[i] = 1 / k^2 when i lies in window o, else 0, and by the chain rule
        //     dL/dx[i] = sum over the windows o that contain i of dL/dy[o] / k^2.
        // Overlapping windows (stride < kernel) each add their share; an input in no window
        // (the last rows or columns that a stride skips) gets 0.
        autograd::record("avg_pool2d", {x}, y, [x, y, N, C, H, W, OH, OW, k, s, pad, inv_area] {
            const float* dy = y.grad();
            const GradBuffer dx = grad_buffer(x);
#pragma omp parallel for schedule(static) if (N * C * H * W >= kernels::min_parallel_elements())
            for (int64_t plane = 0; plane < N * C; ++plane) {
                float* d = dx.data + plane * H * W;
                const float* g = dy + plane * OH * OW;
                if (!dx.accumulate) std::fill(d, d + H * W, 0.f);
                for (int64_t oh = 0; oh < OH; ++oh) {
                    const Span rows = window(oh, s, pad, k, H);
                    for (int64_t ow = 0; ow < OW; ++ow) {
                        const Span cols = window(ow, s, pad, k, W);
                        const float share = g[oh * OW + ow] * inv_area;
                        for (int64_t ih = rows.begin; ih < rows.end; ++ih)
                            for (int64_t iw = cols.begin; iw < cols.end; ++iw)
                                d[ih * W + iw] += share;
                    }
                }
            }
        });
    }
    return y;
}

Tensor global_avg_pool2d(const Tensor& x) {
    if (x.rank() != 4)
        shape_error("global_avg_pool2d",
                    fmt::format("needs input [N, C, H, W], got {}", x.shape().str()));
    const int64_t N = x.dim(0), C = x.dim(1), area = x.dim(2) * x.dim(3);
    if (area == 0)
        shape_error(
            "global_avg_pool2d",
            fmt::format("the mean over an empty plane is undefined, input {}", x.shape().str()));
    Tensor y = Tensor::empty({N, C});
    const float* xp = x.data();
    float* yp = y.data();
    // Each plane summed in double, as the full reductions (reduce.cpp) are: a large plane stays
    // exact to float precision. Eight interleaved partial sums, added in a fixed order at the
    // end, so that the loop vectorises (one chain of additions cannot) and the result stays the
    // same from run to run.
#pragma omp parallel for schedule(static) if (N * C * area >= kernels::min_parallel_elements())
    for (int64_t plane = 0; plane < N * C; ++plane) {
        const float* in = xp + plane * area;
        double part[8] = {};
        int64_t i = 0;
        for (; i + 8 <= area; i += 8)
            for (int k = 0; k < 8; ++k) part[k] += in[i + k];
        double sum = 0.0;
        for (double p : part) sum += p;
        for (; i < area; ++i) sum += in[i];
        yp[plane] = static_cast<float>(sum / static_cast<double>(area));
    }

    if (autograd::needs_grad({&x})) {
        // y[n, c] = (1 / (H W)) * sum over h, w of x[n, c, h, w], so every input of the plane
        // has dy[n, c]/dx[n, c, h, w] = 1 / (H W), and dL/dx[n, c, h, w] = dL/dy[n, c] / (H W).
        const float inv_area = 1.f / static_cast<float>(area);
        // Plane by plane, so that each is a run of one value (rather than an index divided by
        // the plane's size at every element).
        autograd::record("global_avg_pool2d", {x}, y, [x, y, N, C, area, inv_area] {
            const float* dy = y.grad();
            const GradBuffer dx = grad_buffer(x);
#pragma omp parallel for schedule(static) if (N * C * area >= kernels::min_parallel_elements())
            for (int64_t plane = 0; plane < N * C; ++plane) {
                const float g = dy[plane] * inv_area;
                float* d = dx.data + plane * area;
                if (dx.accumulate) {
#pragma omp simd
                    for (int64_t i = 0; i < area; ++i) d[i] += g;
                } else {
#pragma omp simd
                    for (int64_t i = 0; i < area; ++i) d[i] = g;
                }
            }
        });
    }
    return y;
}

}  // namespace normgrad
