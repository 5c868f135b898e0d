#include "kernels/gemm.hpp"

#include <cblas.h>
#include <omp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "kernels/parallel.hpp"
#include "normgrad/cpu.hpp"
#include "normgrad/parallel.hpp"

#if defined(NORMGRAD_WITH_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#endif

namespace normgrad::kernels {

namespace {

// The libraries behind gemm_serial (see normgrad/cpu.hpp for how one is chosen).
enum class Library { openblas = 0, onednn = 1 };

const char* name(Library l) {
    return l == Library::onednn ? "onednn" : "openblas";
}

constexpr bool kHaveOneDnn =
#if defined(NORMGRAD_WITH_ONEDNN)
    true;
#else
    false;
#endif

Library parse_library(const std::string& s, const std::string& who) {
    if (s == "openblas") return Library::openblas;
    if (s == "onednn") {
        if (kHaveOneDnn) return Library::onednn;
        throw std::invalid_argument(who +
                                    "onednn: this normgrad was built without oneDNN "
                                    "(Debian: libdnnl-dev, then configure again)");
    }
    throw std::invalid_argument(who + s + ": unknown GEMM library (expected " +
                                (kHaveOneDnn ? "openblas or onednn)" : "openblas)"));
}

// oneDNN's sgemm where it is built in and the processor has AVX-512: there it ran the models'
// products 1.5 to 2.2 times as fast as OpenBLAS held to its AVX2 kernels, and faster than
// OpenBLAS's own AVX-512 kernels and BLIS (bench/gemm_libraries.sh, docs/results/
// gemm-libraries.md); elsewhere OpenBLAS, the library normgrad was first measured with.
Library default_library() {
    const char* v = std::getenv("NORMGRAD_GEMM");
    if (v && *v) return parse_library(v, "NORMGRAD_GEMM=");
    return kHaveOneDnn && cpu_info().avx512 ? Library::onednn : Library::openblas;
}

std::atomic<int> chosen_library{-1};

Library library() {
    int v = chosen_library.load(std::memory_order_relaxed);
    if (v < 0) {
        v = static_cast<int>(default_library());
        chosen_library.store(v, std::memory_order_relaxed);
    }
    return static_cast<Library>(v);
}

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

#if defined(NORMGRAD_WITH_ONEDNN)
// Debian's oneDNN (2.6) has JIT sgemm kernels that point the stack pointer into a heap buffer
// while they run (oneDNN issue 4845, fixed upstream in 2026 by pull request 4855). A signal
// handled in that window has its frame written by the kernel over the heap: with normgrad's stop
// handlers (SIGINT, SIGTERM, SIGHUP) a Ctrl-C during training aborted the run with "corrupted
// size vs. prev_size", and so would any handler (a profiler's, MPI's). So the calling thread holds
// the asynchronous signals (a ProductsScope, gemm.hpp) for the call, or for a loop of calls: one
// that arrives meanwhile goes to another thread, or waits for the scope's end (milliseconds at
// most). The faults a thread raises itself (SIGSEGV and the like) stay unblocked, so that the
// handlers that report them (AddressSanitizer's) still run.
const sigset_t& async_signals() {
    static const sigset_t set = [] {
        sigset_t s;
        sigfillset(&s);
        for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS})
            sigdelset(&s, sig);
        return s;
    }();
    return set;
}
#endif

// How many times a thread has held the signals (the test hook of gemm.hpp).
std::atomic<int64_t> signal_holds{0};

// Whether a ProductsScope holds the calling thread's signals now.
thread_local bool signals_held = false;

// The test hook of gemm.hpp.
std::atomic<GemmObserver> gemm_observer{nullptr};

}  // namespace

ProductsScope::ProductsScope() {
#if defined(NORMGRAD_WITH_ONEDNN)
    // Only oneDNN's kernels need it, and only the outermost scope of a thread changes the mask.
    if (!signals_held && library() == Library::onednn) {
        pthread_sigmask(SIG_BLOCK, &async_signals(), &saved_);
        signal_holds.fetch_add(1, std::memory_order_relaxed);
        holds_ = signals_held = true;
    }
#endif
}

ProductsScope::~ProductsScope() {
#if defined(NORMGRAD_WITH_ONEDNN)
    if (holds_) {
        pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
        signals_held = false;
    }
#endif
}

int64_t signal_hold_count() {
    return signal_holds.load(std::memory_order_relaxed);
}

void set_gemm_observer(GemmObserver observer) {
    gemm_observer.store(observer, std::memory_order_relaxed);
}

void gemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
    if (const GemmObserver observe = gemm_observer.load(std::memory_order_relaxed))
        observe(trans_a, trans_b, M, N, K, lda, ldb, ldc);
    if (M == 0 || N == 0) return;
    if (K == 0) {  // op(A) op(B) is all zeros: C = beta * C (and beta = 0 must not read C)
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j)
                C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
        return;
    }
    lda = std::max<int64_t>(1, lda), ldb = std::max<int64_t>(1, ldb),
    ldc = std::max<int64_t>(1, ldc);
#if defined(NORMGRAD_WITH_ONEDNN)
    if (library() == Library::onednn) {
        // oneDNN's sgemm is row-major like normgrad, and splits its work by the OpenMP thread
        // count, even inside a parallel region (where its threads cannot start: the split then
        // runs one part after another, measured 1.55x slower on the cnn+BN at 2 threads). This
        // call is the calling thread's alone (see gemm.hpp), so the count is 1 for its duration:
        // a setting of the calling thread's own, cheap to change.
        const int outer = omp_get_max_threads();
        if (outer > 1) omp_set_num_threads(1);
        dnnl_status_t status;
        {
            const ProductsScope held;  // the signals, unless a scope around this call holds them
            status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                ldb, beta, C, ldc);
        }
        if (outer > 1) omp_set_num_threads(outer);
        if (status != dnnl_success)
            throw std::runtime_error("oneDNN's sgemm failed (status " +
                                     std::to_string(static_cast<int>(status)) + ")");
        return;
    }
#endif
    openblas_single_threaded();
    // (BLAS insists on leading dimensions of at least 1.)
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(M),
                static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
                static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
                static_cast<blasint>(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C) {
    // Leading dimensions of the stored (untransposed) row-major matrices.
    const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N, ldc = N;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    // Split the longer side of C into one block per thread, if each block stays worth a call
    // and the product repays the start of a parallel region (kernels/parallel.hpp).
    const bool split_columns = N >= M;
    const int64_t side = split_columns ? N : M;
    int64_t block = (side + threads - 1) / threads;
    block = (block + kBlockMultiple - 1) / kBlockMultiple * kBlockMultiple;
    if (threads == 1 || M * N * K < parallel_thresholds().macs_per_thread * threads ||
        block >= side) {
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

using kernels::chosen_library;
using kernels::kHaveOneDnn;
using kernels::library;
using kernels::parse_library;

std::vector<std::string> gemm_libraries() {
    if (kHaveOneDnn) return {"openblas", "onednn"};
    return {"openblas"};
}

std::string gemm_library() {
    return kernels::name(library());
}

void set_gemm_library(const std::string& name) {
    chosen_library.store(static_cast<int>(parse_library(name, "set_gemm_library: ")),
                         std::memory_order_relaxed);
}

}  // namespace normgrad
