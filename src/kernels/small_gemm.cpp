#include "kernels/small_gemm.hpp"

#include "kernels/isa.hpp"

namespace normgrad::kernels {

namespace {

// Rows [0, R) of C, columns [j, j + 16): 2 vectors per row stay in registers while the K products
// are summed, then are stored once.
template <int R>
NORMGRAD_INLINE void small_k_block(int64_t N, int64_t K, const float* A, const float* B,
                                   const float* bias, float* C, int64_t j) {
    v8 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = splat(bias ? bias[r] : 0.f);
    for (int64_t k = 0; k < K; ++k) {
        const v8 b0 = load(B + k * N + j), b1 = load(B + k * N + j + 8);
        for (int r = 0; r < R; ++r) {
            const float a = A[r * K + k];
            acc[r][0] += a * b0;
            acc[r][1] += a * b1;
        }
    }
    for (int r = 0; r < R; ++r) {
        store(C + r * N + j, acc[r][0]);
        store(C + r * N + j + 8, acc[r][1]);
    }
}

template <int R>
NORMGRAD_INLINE void small_k_rows(int64_t N, int64_t K, const float* A, const float* B,
                                  const float* bias, float* C) {
    int64_t j = 0;
    for (; j + 16 <= N; j += 16) small_k_block<R>(N, K, A, B, bias, C, j);
    for (; j < N; ++j)  // the last columns, one at a time
        for (int r = 0; r < R; ++r) {
            float s = bias ? bias[r] : 0.f;
            for (int64_t k = 0; k < K; ++k) s += A[r * K + k] * B[k * N + j];
            C[r * N + j] = s;
        }
}

// C[i0 + [0, RA), k0 + [0, RB)] from RA rows of A and RB rows of B: RA * RB dot products at once,
// so each loaded vector of A is used RB times and each of B RA times.
template <int RA, int RB>
NORMGRAD_INLINE void dot_block(int64_t K, int64_t P, const float* A, const float* B, float* C,
                               bool accumulate) {
    v8 acc[RA][RB];
    for (int r = 0; r < RA; ++r)
        for (int q = 0; q < RB; ++q) acc[r][q] = splat(0.f);
    int64_t p = 0;
    for (; p + 8 <= P; p += 8) {
        v8 b[RB];
        for (int q = 0; q < RB; ++q) b[q] = load(B + q * P + p);
        for (int r = 0; r < RA; ++r) {
            const v8 a = load(A + r * P + p);
            for (int q = 0; q < RB; ++q) acc[r][q] += a * b[q];
        }
    }
    for (int r = 0; r < RA; ++r)
        for (int q = 0; q < RB; ++q) {
            float s = horizontal_sum(acc[r][q]);
            for (int64_t t = p; t < P; ++t) s += A[r * P + t] * B[q * P + t];
            float& c = C[r * K + q];
            c = accumulate ? c + s : s;
        }
}

template <int RA>
NORMGRAD_INLINE void dot_rows(int64_t K, int64_t P, const float* A, const float* B, float* C,
                              bool accumulate) {
    int64_t k = 0;
    for (; k + 3 <= K; k += 3) dot_block<RA, 3>(K, P, A, B + k * P, C + k, accumulate);
    for (; k < K; ++k) dot_block<RA, 1>(K, P, A, B + k * P, C + k, accumulate);
}

NORMGRAD_INLINE void gemm_small_k_body(int64_t M, int64_t N, int64_t K, const float* A,
                                       const float* B, const float* bias, float* C) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4)
        small_k_rows<4>(N, K, A + i * K, B, bias ? bias + i : nullptr, C + i * N);
    for (; i < M; ++i) small_k_rows<1>(N, K, A + i * K, B, bias ? bias + i : nullptr, C + i * N);
}

NORMGRAD_INLINE void gemm_dot_small_body(int64_t M, int64_t K, int64_t P, const float* A,
                                         const float* B, float* C, bool accumulate) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) dot_rows<4>(K, P, A + i * P, B, C + i * K, accumulate);
    for (; i < M; ++i) dot_rows<1>(K, P, A + i * P, B, C + i * K, accumulate);
}

}  // namespace

NORMGRAD_KERNEL(void, gemm_small_k,
                (int64_t M, int64_t N, int64_t K, const float* A, const float* B, const float* bias,
                 float* C),
                gemm_small_k_body, (M, N, K, A, B, bias, C))
NORMGRAD_KERNEL(void, gemm_dot_small,
                (int64_t M, int64_t K, int64_t P, const float* A, const float* B, float* C,
                 bool accumulate),
                gemm_dot_small_body, (M, K, P, A, B, C, accumulate))

}  // namespace normgrad::kernels
