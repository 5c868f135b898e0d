#include "kernels/im2col.hpp"

#include <algorithm>
#include <cstring>

namespace normgrad::kernels {

namespace {

// The output columns ow whose input column iw = ow * stride - padding + kw lies inside [0, W):
// [lo, hi). Outside it the receptive field reads padding.
void valid_range(const ConvGeometry& g, int64_t kw, int64_t* lo, int64_t* hi) {
    const int64_t off = kw - g.padding;  // iw = ow * stride + off
    *lo = off >= 0 ? 0 : (-off + g.stride - 1) / g.stride;
    *hi = g.W - off <= 0 ? 0 : std::min(g.OW, (g.W - off + g.stride - 1) / g.stride);
    *lo = std::min(*lo, *hi);
}

}  // namespace

void im2col(const ConvGeometry& g, const float* x, float* cols) {
    const int64_t P = g.OH * g.OW, ncols = g.cols();
    for (int64_t r = 0; r < g.rows(); ++r) {
        const int64_t c = r / (g.kH * g.kW), kh = (r / g.kW) % g.kH, kw = r % g.kW;
        int64_t lo, hi;
        valid_range(g, kw, &lo, &hi);
        const int64_t off = kw - g.padding;
        float* out = cols + r * ncols;
        for (int64_t n = 0; n < g.N; ++n) {
            const float* plane = x + (n * g.C + c) * g.H * g.W;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
                const int64_t ih = oh * g.stride - g.padding + kh;
                float* dst = out + n * P + oh * g.OW;
                if (ih < 0 || ih >= g.H) {
                    std::fill(dst, dst + g.OW, 0.f);
                    continue;
                }
                const float* row = plane + ih * g.W + off;
                std::fill(dst, dst + lo, 0.f);
                if (g.stride == 1) {
                    std::memcpy(dst + lo, row + lo, size_t(hi - lo) * sizeof(float));
                } else {
                    for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[ow * g.stride];
                }
                std::fill(dst + hi, dst + g.OW, 0.f);
            }
        }
    }
}

void col2im_add(const ConvGeometry& g, const float* cols, float* dx) {
    const int64_t P = g.OH * g.OW, ncols = g.cols();
    // Rows of one input channel write to the same pixels, so threads split by channel.
    for (int64_t c = 0; c < g.C; ++c) {
        for (int64_t kh = 0; kh < g.kH; ++kh)
            for (int64_t kw = 0; kw < g.kW; ++kw) {
                int64_t lo, hi;
                valid_range(g, kw, &lo, &hi);
                const int64_t off = kw - g.padding;
                const float* in = cols + ((c * g.kH + kh) * g.kW + kw) * ncols;
                for (int64_t n = 0; n < g.N; ++n) {
                    float* plane = dx + (n * g.C + c) * g.H * g.W;
                    for (int64_t oh = 0; oh < g.OH; ++oh) {
                        const int64_t ih = oh * g.stride - g.padding + kh;
                        if (ih < 0 || ih >= g.H) continue;
                        const float* src = in + n * P + oh * g.OW;
                        float* row = plane + ih * g.W + off;
                        for (int64_t ow = lo; ow < hi; ++ow) row[ow * g.stride] += src[ow];
                    }
                }
            }
    }
}

}  // namespace normgrad::kernels
