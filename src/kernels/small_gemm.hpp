// Matrix products with one very short dimension, where OpenBLAS's general kernel is slow.
//
// A convolution over few input channels (the first layer of an image network: 1 channel x 3x3
// kernel = 9 rows of im2col) multiplies [O, 9] by [9, P]: every output element is a sum of only
// 9 products, so a general GEMM spends its time loading and storing C, not multiplying. These
// kernels keep a block of C in registers for the whole short sum instead (3x faster for 9 rows).
#pragma once

#include <cstdint>

namespace normgrad::kernels {

// The short dimension these kernels are for; above it OpenBLAS is as fast or faster.
inline constexpr int64_t kSmallGemmMaxK = 32;

// C[M, N] = A[M, K] B[K, N] + bias[i] on row i (bias may be null). Row-major, contiguous:
// lda = K, ldb = ldc = N. Meant for K <= kSmallGemmMaxK (correct for any K).
void gemm_small_k(int64_t M, int64_t N, int64_t K, const float* A, const float* B,
                  const float* bias, float* C);

// C[M, K] (+)= A[M, P] B[K, P]^T: M x K dot products of length P (long), for small M and K.
// Row-major, contiguous: lda = ldb = P, ldc = K. accumulate = false overwrites C.
void gemm_dot_small(int64_t M, int64_t K, int64_t P, const float* A, const float* B, float* C,
                    bool accumulate);

}  // namespace normgrad::kernels
