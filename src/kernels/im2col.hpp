// im2col / col2im: turn a convolution into one matrix product.
//
// For a batch x [N, C, H, W] and a kH x kW kernel, im2col writes the matrix
//   cols[(c * kH + kh) * kW + kw][(n * OH + oh) * OW + ow] = x[n, c, oh*s - p + kh, ow*s - p + kw]
// (zero where the index falls into the padding). Each column holds the receptive field of one
// output pixel, so the convolution is  out[O, N*OH*OW] = w[O, C*kH*kW] x cols.
// col2im is its adjoint: it adds every entry of cols back onto the input pixel it came from,
// which is exactly the backward pass of im2col.
#pragma once

#include <cstdint>

namespace normgrad::kernels {

struct ConvGeometry {
    int64_t N, C, H, W;  // input
    int64_t kH, kW;      // kernel
    int64_t stride, padding;
    int64_t OH, OW;  // output
    int64_t rows() const { return C * kH * kW; }
    int64_t cols() const { return N * OH * OW; }
};

void im2col(const ConvGeometry& g, const float* x, float* cols);
void col2im_add(const ConvGeometry& g, const float* cols, float* dx);  // dx += col2im(cols)

}  // namespace normgrad::kernels
