// 2-D max pooling. Ties and NaNs are resolved as PyTorch's CPU kernel does: windows are scanned
// row by row, a value replaces the current maximum only when strictly greater (or NaN), so the
// first maximum in scan order wins and a NaN anywhere in the window propagates.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/ops.hpp"

namespace normgrad {

Tensor max_pool2d(const Tensor& x, Pool2dParams p) {
    const int64_t k = p.kernel, s = p.stride == 0 ? p.kernel : p.stride, pad = p.padding;
    if (x.rank() != 4)
        shape_error("max_pool2d", fmt::format("needs input [N, C, H, W], got {}", x.shape().str()));
    if (k < 1 || s < 1 || pad < 0 || pad > k / 2)
        shape_error("max_pool2d", fmt::format("kernel {} stride {} padding {}: need kernel >= 1, "
                                              "stride >= 1 and 0 <= padding <= kernel / 2",
                                              k, s, pad));
    const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
    if (H + 2 * pad < k || W + 2 * pad < k)
        shape_error("max_pool2d", fmt::format("kernel {} is larger than the padded input {}", k,
                                              x.shape().str()));
    const int64_t OH = (H + 2 * pad - k) / s + 1, OW = (W + 2 * pad - k) / s + 1;
    Tensor y = Tensor::empty({N, C, OH, OW});
    // For each output, the index of the chosen input inside its (H, W) plane.
    auto argmax = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(y.numel()));

    const float* xp = x.data();
    float* yp = y.data();
    int32_t* am = argmax->data();
    // The window's first maximum in row-major scan order wins; a NaN wins and stays.
    auto better = [](float v, float best) { return v > best || std::isnan(v); };
#pragma omp parallel for schedule(static) if (N * C * H * W > 65536)
    for (int64_t plane = 0; plane < N * C; ++plane) {
        const float* in = xp + plane * H * W;
        float* out = yp + plane * OH * OW;
        int32_t* arg = am + plane * OH * OW;
        if (k == 2 && s == 2 && pad == 0) {
            // The common 2x2 / stride 2 case, without the window bookkeeping.
            for (int64_t oh = 0; oh < OH; ++oh) {
                const float* r0 = in + 2 * oh * W;
                const float* r1 = r0 + W;
                for (int64_t ow = 0; ow < OW; ++ow) {
                    const int64_t i0 = 2 * oh * W + 2 * ow;
                    float best = r0[2 * ow];
                    int64_t best_i = i0;
                    if (better(r0[2 * ow + 1], best)) best = r0[2 * ow + 1], best_i = i0 + 1;
                    if (better(r1[2 * ow], best)) best = r1[2 * ow], best_i = i0 + W;
                    if (better(r1[2 * ow + 1], best)) best = r1[2 * ow + 1], best_i = i0 + W + 1;
                    out[oh * OW + ow] = best;
                    arg[oh * OW + ow] = static_cast<int32_t>(best_i);
                }
            }
            continue;
        }
        for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t h0 = oh * s - pad, w0 = ow * s - pad;
                const int64_t hs = std::max<int64_t>(h0, 0), ws = std::max<int64_t>(w0, 0);
                const int64_t he = std::min(h0 + k, H), we = std::min(w0 + k, W);
                float best = -std::numeric_limits<float>::infinity();
                int64_t best_i = hs * W + ws;
                for (int64_t ih = hs; ih < he; ++ih)
                    for (int64_t iw = ws; iw < we; ++iw)
                        if (better(in[ih * W + iw], best)) {
                            best = in[ih * W + iw];
                            best_i = ih * W + iw;
                        }
                out[oh * OW + ow] = best;
                arg[oh * OW + ow] = static_cast<int32_t>(best_i);
            }
    }

    if (autograd::needs_grad({&x})) {
        // Only the chosen input of each window influenced the output: dL/dx[argmax] += dy.
        autograd::record("max_pool2d", {x}, y, [x, y, argmax, N, C, H, W, OH, OW] {
            const float* dy = y.grad();
            float* dx = x.mutable_grad();
            const int32_t* a = argmax->data();
            for (int64_t plane = 0; plane < N * C; ++plane)
                for (int64_t i = 0; i < OH * OW; ++i) {
                    const int64_t o = plane * OH * OW + i;
                    dx[plane * H * W + a[o]] += dy[o];
                }
        });
    }
    return y;
}

}  // namespace normgrad
