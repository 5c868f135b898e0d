#include "kernels/gemm.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <stdexcept>

#include "normgrad/parallel.hpp"

namespace normgrad::kernels {

namespace {

// A product below this many multiply-adds (a few microseconds) stays on one thread.
constexpr int64_t kMinParallelMacs = int64_t{1} << 18;
// Blocks of C are multiples of this many rows or columns (OpenBLAS's kernels work on 8 or 16).
constexpr int64_t kBlockMultiple = 16;

// OpenBLAS starts with one thread per core; normgrad wants it single-threaded from the first call.
void openblas_single_threaded() {
    static const bool done = [] {
        openblas_set_num_threads(1);
        return true;
    }();
    (void)done;
}

}  // namespace

void gemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {  // op(A) op(B) is all zeros: C = beta * C (and beta = 0 must not read C)
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j)
                C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
        return;
    }
    openblas_single_threaded();
    // (BLAS insists on leading dimensions of at least 1.)
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(M),
                static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
                static_cast<blasint>(std::max<int64_t>(1, lda)), B,
                static_cast<blasint>(std::max<int64_t>(1, ldb)), beta, C,
                static_cast<blasint>(std::max<int64_t>(1, ldc)));
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C) {
    // Leading dimensions of the stored (untransposed) row-major matrices.
    const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N, ldc = N;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    // Split the longer side of C into one block per thread, if each block stays worth a call.
    const bool split_columns = N >= M;
    const int64_t side = split_columns ? N : M;
    int64_t block = (side + threads - 1) / threads;
    block = (block + kBlockMultiple - 1) / kBlockMultiple * kBlockMultiple;
    if (threads == 1 || M * N * K < kMinParallelMacs * threads || block >= side) {
        gemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int64_t blocks = (side + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(static_cast <int>(blocks))
    for (int64_t i = 0; i < blocks; ++i) {
        const int64_t first = i * block, size = std::min(block, side - first);
        if (split_columns) {
            // Columns [first, first + size) of C need those columns of op(B): in stored B they
            // are columns (no transpose) or rows (transposed).
            const float* b = trans_b ? B + first * ldb : B + first;
            gemm_serial(trans_a, trans_b, M, size, K, alpha, A, lda, b, ldb, beta, C + first, ldc);
        } else {
            // Rows of C need the same rows of op(A): rows of stored A, or its columns.
            const float* a = trans_a ? A + first : A + first * lda;
            gemm_serial(trans_a, trans_b, size, N, K, alpha, a, lda, B, ldb, beta, C + first * ldc,
                        ldc);
        }
    }
}

}  // namespace normgrad::kernels

namespace normgrad {

void set_num_threads(int n) {
    if (n < 1) throw std::invalid_argument("set_num_threads: need at least one thread");
    // OpenBLAS stays single-threaded (see kernels/gemm.hpp); OpenMP gets the n threads.
    openblas_set_num_threads(1);
    omp_set_num_threads(n);
}

int num_threads() {
    return omp_get_max_threads();
}

}  // namespace normgrad
