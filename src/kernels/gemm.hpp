// Thin wrapper over a BLAS sgemm for row-major matrices: oneDNN's dnnl_sgemm on processors with
// AVX-512 where it is built in, OpenBLAS's cblas_sgemm otherwise (normgrad/cpu.hpp chooses).
//   C = alpha * op(A) * op(B) + beta * C,  op(X) = X or X^T,
// with op(A) [M, K], op(B) [K, N], C [M, N]. Transposes are passed as flags, never copied.
// beta = 0 overwrites C without reading it (C may hold garbage, even NaN).
//
// Threads: the library itself always runs single-threaded; normgrad's OpenMP threads are the only
// threads there are, so the two never compete for the cores. gemm() splits a large product into
// one block of C per thread (each an independent single-threaded sgemm); inside a parallel region
// it runs in the calling thread.
#pragma once

#include <signal.h>

#include <cstdint>

namespace normgrad::kernels {

// Contiguous matrices (leading dimensions K or M, N or K, and N), split between threads.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C);

// Explicit leading dimensions (the row length of each stored matrix), in the calling thread only.
void gemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc);

// Holds the calling thread's asynchronous signals while it exists, when oneDNN is the library in
// use (gemm.cpp says why). gemm_serial makes one around each oneDNN call; a loop of many
// products in one thread (a Winograd convolution makes hundreds per call) makes one around the
// loop, so that it pays for the two system calls once rather than for every product. A scope
// inside one that holds the signals holds nothing more; a scope begun while OpenBLAS is in use
// holds nothing, and gemm_serial's own scope then holds them if oneDNN runs after all. A signal
// that arrives meanwhile waits for the scope's end, so a scope should span one operation's work.
// Made inside a parallel region, one per thread.
class ProductsScope {
  public:
    ProductsScope();
    ~ProductsScope();
    ProductsScope(const ProductsScope&) = delete;
    ProductsScope& operator=(const ProductsScope&) = delete;

  private:
    [[maybe_unused]] bool holds_ = false;  // this scope changed the mask, and restores it
    [[maybe_unused]] sigset_t saved_;
};

// For a test: how many times, in all threads so far, the signals were held (by gemm_serial for
// one product or by a ProductsScope for many).
int64_t signal_hold_count();

// A hook that exists for a test: when set, gemm_serial calls it with each product's shape and
// leading dimensions (as passed) before computing it. Every product normgrad hands to a GEMM
// library goes through gemm_serial, so tests/test_gemm_libraries.cpp records with it the shapes
// the models use and checks each library on them. Null by default, which costs one branch per
// call. gemm_serial runs in several threads at once, and so may the hook.
using GemmObserver = void (*)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                              int64_t lda, int64_t ldb, int64_t ldc);
// Sets the hook (null: none); not to be called while products run.
void set_gemm_observer(GemmObserver observer);

}  // namespace normgrad::kernels
