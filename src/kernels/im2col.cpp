#include "kernels/im2col.hpp"

namespace normgrad::kernels {

void im2col(const ConvGeometry& g, const float* x, float* cols) {
    const int64_t P = g.OH * g.OW, ncols = g.cols();
#pragma omp parallel for schedule(static) if (g.rows() * ncols > 32768)
    for (int64_t r = 0; r < g.rows(); ++r) {
        const int64_t c = r / (g.kH * g.kW), kh = (r / g.kW) % g.kH, kw = r % g.kW;
        float* out = cols + r * ncols;
        for (int64_t n = 0; n < g.N; ++n) {
            const float* plane = x + (n * g.C + c) * g.H * g.W;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
                const int64_t ih = oh * g.stride - g.padding + kh;
                float* dst = out + n * P + oh * g.OW;
                if (ih < 0 || ih >= g.H) {
                    for (int64_t ow = 0; ow < g.OW; ++ow) dst[ow] = 0.f;
                    continue;
                }
                const float* row = plane + ih * g.W;
                for (int64_t ow = 0; ow < g.OW; ++ow) {
                    const int64_t iw = ow * g.stride - g.padding + kw;
                    dst[ow] = (iw >= 0 && iw < g.W) ? row[iw] : 0.f;
                }
            }
        }
    }
}

void col2im_add(const ConvGeometry& g, const float* cols, float* dx) {
    const int64_t P = g.OH * g.OW, ncols = g.cols();
    // Rows of one input channel write to the same pixels, so threads split by channel.
#pragma omp parallel for schedule(static) if (g.rows() * ncols > 32768)
    for (int64_t c = 0; c < g.C; ++c) {
        for (int64_t kh = 0; kh < g.kH; ++kh)
            for (int64_t kw = 0; kw < g.kW; ++kw) {
                const float* in = cols + ((c * g.kH + kh) * g.kW + kw) * ncols;
                for (int64_t n = 0; n < g.N; ++n) {
                    float* plane = dx + (n * g.C + c) * g.H * g.W;
                    for (int64_t oh = 0; oh < g.OH; ++oh) {
                        const int64_t ih = oh * g.stride - g.padding + kh;
                        if (ih < 0 || ih >= g.H) continue;
                        const float* src = in + n * P + oh * g.OW;
                        float* row = plane + ih * g.W;
                        for (int64_t ow = 0; ow < g.OW; ++ow) {
                            const int64_t iw = ow * g.stride - g.padding + kw;
                            if (iw >= 0 && iw < g.W) row[iw] += src[ow];
                        }
                    }
                }
            }
    }
}

}  // namespace normgrad::kernels
