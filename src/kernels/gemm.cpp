#include "kernels/gemm.hpp"

#include "normgrad/parallel.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <stdexcept>

namespace normgrad::kernels {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C) {
    if (M == 0 || N == 0) return;
    // Leading dimensions of the stored (untransposed) row-major matrices.
    // (BLAS insists on leading dimensions of at least 1, even for empty matrices.)
    const int64_t lda = std::max<int64_t>(1, trans_a ? M : K);
    const int64_t ldb = std::max<int64_t>(1, trans_b ? K : N);
    cblas_sgemm(
        CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
        static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
        static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(N));
}

}  // namespace normgrad::kernels

namespace normgrad {

void set_num_threads(int n) {
    if (n < 1) throw std::invalid_argument("set_num_threads: need at least one thread");
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace normgrad
