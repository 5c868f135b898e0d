// Thin wrapper over OpenBLAS's cblas_sgemm for row-major matrices.
//   C = alpha * op(A) * op(B) + beta * C,  op(X) = X or X^T,
// with op(A) [M, K], op(B) [K, N], C [M, N]. Transposes are passed as flags, never copied.
#pragma once

#include <cstdint>

namespace normgrad::kernels {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C);

}  // namespace normgrad::kernels
