// 3x3 convolution with stride 1 by Winograd's minimal filtering algorithm F(2x2, 3x3)
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016).
//
// ---- The idea in one dimension: F(2, 3) ----
// Two outputs of a 3-tap filter g over four inputs d0..d3 (a cross-correlation, as in conv2d),
//   y0 = d0 g0 + d1 g1 + d2 g2,    y1 = d1 g0 + d2 g1 + d3 g2         (6 multiplications),
// take only 4 multiplications:
//   m0 = (d0 - d2) g0,             m1 = (d1 + d2) (g0 + g1 + g2) / 2,
//   m2 = (d2 - d1) (g0 - g1 + g2) / 2,   m3 = (d1 - d3) g2,
//   y0 = m0 + m1 + m2,             y1 = m1 - m2 - m3.
// (Expand m1 + m2 and m1 - m2 to check.) In matrix form y = A^T [ (G g) .* (B^T d) ] with
//   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
//         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
//         [0 -1  1  0]         [1/2 -1/2  1/2]
//         [0  1  0 -1]         [ 0    0    1 ]
// and .* the elementwise product.
//
// ---- Two dimensions, many channels ----
// Applying the 1-D algorithm along rows and then columns turns a 4x4 input tile d into a 2x2
// output tile with 16 multiplications instead of 36:
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A.
// The output tiles cover the output image, so the input tiles (their receptive fields) overlap by
// two pixels. Summing over input channels c, the 16 elementwise products of a tile become, for
// each position xi of the 4x4 transformed tile, one matrix product over all tiles t at once:
//   U_xi[o, c] = (G w[o, c] G^T)[xi]          the transformed weights
//   V_xi[c, t] = (B^T d[c, t] B)[xi]          the transformed input tiles
//   M_xi[o, t] = sum_c U_xi[o, c] V_xi[c, t]  16 GEMMs [O, C] x [C, tiles]
//   y[o, tile t] = A^T M[o, t] A (+ bias)
// That is 16 C multiplications per 4 outputs instead of 36 C for im2col's single GEMM
// [O, 9C] x [9C, pixels]: 2.25x fewer. The transforms are additions and halvings only.
//
// ---- Backward ----
// Every stage above is linear, so its gradient is its transpose, applied in reverse order:
//   dM[o, t]  = A dY[o, t] A^T                  (dY: the 2x2 output gradients of the tile)
//   dU_xi     = dM_xi V_xi^T                    (summed over all tiles: [O, tiles] x [tiles, C])
//   dV_xi     = U_xi^T dM_xi                    ([C, O] x [O, tiles])
//   dw[o, c]  = G^T dU[o, c] G                  (4x4 -> 3x3)
//   dx       += B dV[c, t] B^T on the 4x4 input window of tile t (overlapping windows add up,
//                                               as im2col's columns do in col2im)
// Outputs beyond the image (odd output sizes) are computed and dropped; their dY is 0.
//
// The batch is processed in blocks of whole images (a few hundred tiles), each block's
// transforms and GEMMs staying in cache; blocks are shared among the threads.
#pragma once

#include <cstdint>

#include "kernels/grad_buffer.hpp"
#include "kernels/im2col.hpp"

namespace normgrad::kernels {

// 3x3 kernel, stride 1 (any padding).
bool winograd_supports(const ConvGeometry& g);

// y [N, O, OH, OW] = conv(x [N, C, H, W], w [O, C, 3, 3]) + b [O] (b may be null).
void winograd_forward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                      const float* b, float* y);

// From dy [N, O, OH, OW]: dw [O, C, 3, 3], db [O] (the sum of dy over images and pixels) and
// dx [N, C, H, W], each written or added as its GradBuffer asks (data == nullptr: that gradient
// is not wanted).
void winograd_backward(const ConvGeometry& g, int64_t O, const float* x, const float* w,
                       const float* dy, GradBuffer dw, GradBuffer db, GradBuffer dx);

}  // namespace normgrad::kernels
