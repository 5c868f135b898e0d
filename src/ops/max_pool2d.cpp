// 2-D max pooling. Ties and NaNs are resolved as PyTorch's CPU kernel does: windows are scanned
// row by row, a value replaces the current maximum only when strictly greater (or NaN), so the
// first maximum in scan order wins and a NaN anywhere in the window propagates.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "kernels/grad_buffer.hpp"
#include "kernels/isa.hpp"
#include "kernels/parallel.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/ops/max_pool2d.hpp"

namespace normgrad {

namespace {

// A value replaces the window's current maximum when it is strictly greater, or NaN.
// (Written with `|` and `x != x` rather than `||` and std::isnan, so that the 2x2 loops below
// become compares and masks instead of branches, and vectorise.)
NORMGRAD_INLINE bool better(float v, float best) {
    return (v > best) | (v != v);
}

// 2x2 / stride 2 pooling (the common case) works on blocks of B outputs of one row (B = 8 or 4):
// loops of a fixed count, which the compiler turns into straight vector code. A row that is not
// a whole number of blocks ends with a block that overlaps the one before it, which computes the
// overlapped outputs again and writes the same values. Where outputs are added to (the backward
// with Accumulate), and in rows shorter than a block, the last outputs are computed as a block on
// copies padded with zeros, of which only those outputs are kept. (The models' rows are 14 and 7
// outputs long: written as one loop over the row, most of their windows went through the loop's
// short-vector and scalar remainders.)
//
// When the gradient is wanted, the forward also keeps each window's winner as one byte (0 to 3:
// top left, top right, bottom left, bottom right), so that the backward reads a quarter byte per
// input instead of the input again (for the models' first pooling, 0.8 MB of winners a step
// instead of 12.8 MB of input).

// One block of outputs over input rows r0 and r1: each window scanned in row-major order, top row
// then bottom row. With WithArg, also the winner's position in arg.
template <int64_t B, bool WithArg>
NORMGRAD_INLINE void pool_2x2_block(const float* r0, const float* r1, float* out, uint8_t* arg) {
    int32_t at[B];  // the winners as whole vector lanes; narrowed to bytes below
#pragma omp simd
    for (int64_t ow = 0; ow < B; ++ow) {
        const float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
        float best = v0;
        int32_t a = 0;
        bool t = better(v1, best);
        best = t ? v1 : best, a = t ? 1 : a;
        t = better(v2, best);
        best = t ? v2 : best, a = t ? 2 : a;
        t = better(v3, best);
        best = t ? v3 : best, a = t ? 3 : a;
        out[ow] = best;
        at[ow] = a;
    }
    if (WithArg)
        for (int64_t ow = 0; ow < B; ++ow) arg[ow] = static_cast<uint8_t>(at[ow]);
}

template <int64_t B, bool WithArg>
NORMGRAD_INLINE void pool_2x2_blocks(const float* r0, const float* r1, int64_t OW, float* out,
                                     uint8_t* arg) {
    int64_t ow = 0;
    for (; ow + B <= OW; ow += B)
        pool_2x2_block<B, WithArg>(r0 + 2 * ow, r1 + 2 * ow, out + ow, WithArg ? arg + ow : arg);
    const int64_t last = OW - B;
    if (ow < OW)
        pool_2x2_block<B, WithArg>(r0 + 2 * last, r1 + 2 * last, out + last,
                                   WithArg ? arg + last : arg);
}

// A row of fewer than B outputs, as a block on padded copies.
template <int64_t B, bool WithArg>
NORMGRAD_INLINE void pool_2x2_short_row(const float* r0, const float* r1, int64_t OW, float* out,
                                        uint8_t* arg) {
    float a[2 * B] = {}, b[2 * B] = {}, o[B];
    uint8_t w[B];
    std::copy(r0, r0 + 2 * OW, a);
    std::copy(r1, r1 + 2 * OW, b);
    pool_2x2_block<B, WithArg>(a, b, o, w);
    std::copy(o, o + OW, out);
    if (WithArg) std::copy(w, w + OW, arg);
}

template <bool WithArg>
NORMGRAD_INLINE void pool_2x2_row(const float* r0, const float* r1, int64_t OW, float* out,
                                  uint8_t* arg) {
    if (OW >= 8) return pool_2x2_blocks<8, WithArg>(r0, r1, OW, out, arg);
    if (OW >= 4) return pool_2x2_blocks<4, WithArg>(r0, r1, OW, out, arg);
    pool_2x2_short_row<4, WithArg>(r0, r1, OW, out, arg);
}

// Its backward: each window's four inputs get dy at the saved winner and 0 elsewhere (with
// Accumulate, added).
template <int64_t B, bool Accumulate>
NORMGRAD_INLINE void unpool_2x2_block(const uint8_t* arg, const float* dy, float* d0, float* d1) {
    int32_t winner[B];
    for (int64_t ow = 0; ow < B; ++ow) winner[ow] = arg[ow];
#pragma omp simd
    for (int64_t ow = 0; ow < B; ++ow) {
        const float g = dy[ow];
        const int32_t at = winner[ow];
        const float h0 = at == 0 ? g : 0.f, h1 = at == 1 ? g : 0.f, h2 = at == 2 ? g : 0.f,
                    h3 = at == 3 ? g : 0.f;
        if (Accumulate) {
            d0[2 * ow] += h0, d0[2 * ow + 1] += h1, d1[2 * ow] += h2, d1[2 * ow + 1] += h3;
        } else {
            d0[2 * ow] = h0, d0[2 * ow + 1] = h1, d1[2 * ow] = h2, d1[2 * ow + 1] = h3;
        }
    }
}

// Outputs ow .. OW - 1 (fewer than B), as a block on padded copies.
template <int64_t B, bool Accumulate>
NORMGRAD_INLINE void unpool_2x2_last(const uint8_t* arg, const float* dy, int64_t ow, int64_t OW,
                                     float* d0, float* d1) {
    uint8_t a[B] = {};
    float g[B] = {}, e0[2 * B] = {}, e1[2 * B] = {};
    std::copy(arg + ow, arg + OW, a);
    std::copy(dy + ow, dy + OW, g);
    if (Accumulate) {
        std::copy(d0 + 2 * ow, d0 + 2 * OW, e0);
        std::copy(d1 + 2 * ow, d1 + 2 * OW, e1);
    }
    unpool_2x2_block<B, Accumulate>(a, g, e0, e1);
    std::copy(e0, e0 + 2 * (OW - ow), d0 + 2 * ow);
    std::copy(e1, e1 + 2 * (OW - ow), d1 + 2 * ow);
}

template <int64_t B, bool Accumulate>
NORMGRAD_INLINE void unpool_2x2_blocks(const uint8_t* arg, const float* dy, int64_t OW, float* d0,
                                       float* d1) {
    int64_t ow = 0;
    for (; ow + B <= OW; ow += B)
        unpool_2x2_block<B, Accumulate>(arg + ow, dy + ow, d0 + 2 * ow, d1 + 2 * ow);
    if (ow == OW) return;
    if (Accumulate) return unpool_2x2_last<B, Accumulate>(arg, dy, ow, OW, d0, d1);
    const int64_t last = OW - B;  // overlapping the block before: the same values written again
    unpool_2x2_block<B, Accumulate>(arg + last, dy + last, d0 + 2 * last, d1 + 2 * last);
}

template <bool Accumulate>
NORMGRAD_INLINE void unpool_2x2_row(const uint8_t* arg, const float* dy, int64_t OW, float* d0,
                                    float* d1) {
    if (OW >= 8) return unpool_2x2_blocks<8, Accumulate>(arg, dy, OW, d0, d1);
    if (OW >= 4) return unpool_2x2_blocks<4, Accumulate>(arg, dy, OW, d0, d1);
    unpool_2x2_last<4, Accumulate>(arg, dy, 0, OW, d0, d1);
}

// One (H, W) plane of 2x2 / stride 2 pooling (arg: the winners, or null when no gradient is
// wanted), and its backward, in three builds each (kernels/isa.hpp).
NORMGRAD_INLINE void pool_2x2_plane_body(const float* in, int64_t W, int64_t OH, int64_t OW,
                                         float* out, uint8_t* arg) {
    for (int64_t oh = 0; oh < OH; ++oh) {
        const float *r0 = in + 2 * oh * W, *r1 = r0 + W;
        if (arg)
            pool_2x2_row<true>(r0, r1, OW, out + oh * OW, arg + oh * OW);
        else
            pool_2x2_row<false>(r0, r1, OW, out + oh * OW, nullptr);
    }
}
NORMGRAD_KERNEL_AVX2_ON_AVX512(void, pool_2x2_plane,
                               (const float* in, int64_t W, int64_t OH, int64_t OW, float* out,
                                uint8_t* arg),
                               pool_2x2_plane_body, (in, W, OH, OW, out, arg))

NORMGRAD_INLINE void unpool_2x2_plane_body(const uint8_t* arg, const float* g, int64_t W,
                                           int64_t OH, int64_t OW, float* d, bool accumulate) {
    for (int64_t oh = 0; oh < OH; ++oh) {
        float* d0 = d + 2 * oh * W;
        if (accumulate)
            unpool_2x2_row<true>(arg + oh * OW, g + oh * OW, OW, d0, d0 + W);
        else
            unpool_2x2_row<false>(arg + oh * OW, g + oh * OW, OW, d0, d0 + W);
    }
}
NORMGRAD_KERNEL_AVX2_ON_AVX512(void, unpool_2x2_plane,
                               (const uint8_t* arg, const float* g, int64_t W, int64_t OH,
                                int64_t OW, float* d, bool accumulate),
                               unpool_2x2_plane_body, (arg, g, W, OH, OW, d, accumulate))

}  // namespace

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
    const bool tiles_2x2 = k == 2 && s == 2 && pad == 0;
    const bool grad = autograd::needs_grad({&x});
    // For the backward, the chosen input of each output: in the general case its index in the
    // (H, W) plane, in the 2x2 case its position in the window (one byte).
    std::shared_ptr<std::vector<int32_t>> argmax;
    std::shared_ptr<std::vector<uint8_t>> winners;
    if (!tiles_2x2) argmax = std::make_shared<std::vector<int32_t>>(size_t(y.numel()));
    if (tiles_2x2 && grad) winners = std::make_shared<std::vector<uint8_t>>(size_t(y.numel()));

    const float* xp = x.data();
    float* yp = y.data();
    // The window's first maximum in row-major scan order wins; a NaN wins and stays.
#pragma omp parallel for schedule(static) if (N * C * H * W >= kernels::min_parallel_elements())
    for (int64_t plane = 0; plane < N * C; ++plane) {
        const float* in = xp + plane * H * W;
        float* out = yp + plane * OH * OW;
        if (tiles_2x2) {
            pool_2x2_plane(in, W, OH, OW, out,
                           winners ? winners->data() + plane * OH * OW : nullptr);
            continue;
        }
        int32_t* arg = argmax->data() + plane * OH * OW;
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

    if (grad) {
        // Only the chosen input of each window influenced the output: dL/dx[argmax] += dy.
        // Every other input gets 0 from this window.
        autograd::record("max_pool2d", {x}, y,
                         [x, y, argmax, winners, N, C, H, W, OH, OW, tiles_2x2] {
                             const float* dy = y.grad();
                             const GradBuffer dx = grad_buffer(x);
#pragma omp parallel for schedule(static) if (N * C * H * W >= kernels::min_parallel_elements())
                             for (int64_t plane = 0; plane < N * C; ++plane) {
                                 float* d = dx.data + plane * H * W;
                                 const float* g = dy + plane * OH * OW;
                                 if (tiles_2x2) {
                                     unpool_2x2_plane(winners->data() + plane * OH * OW, g, W, OH,
                                                      OW, d, dx.accumulate);
                                     if (dx.accumulate) continue;
                                     // An odd last column or row belongs to no window.
                                     if (W % 2)
                                         for (int64_t h = 0; h < 2 * OH; ++h)
                                             d[h * W + W - 1] = 0.f;
                                     if (H % 2) std::fill(d + (H - 1) * W, d + H * W, 0.f);
                                     continue;
                                 }
                                 const int32_t* a = argmax->data() + plane * OH * OW;
                                 if (!dx.accumulate) std::fill(d, d + H * W, 0.f);
                                 for (int64_t i = 0; i < OH * OW; ++i) d[a[i]] += g[i];
                             }
                         });
    }
    return y;
}

}  // namespace normgrad
