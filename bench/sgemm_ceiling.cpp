// sgemm_ceiling: how fast a GEMM library runs the matrix products of the benchmark's models on
// this machine, and so how fast one epoch could be if it were nothing but GEMM.
//
//   build/bench/sgemm_ceiling --threads T [--library openblas|onednn]   (one JSON object per line)
//   build/bench/sgemm_ceiling_blis --threads T --library blis   (where Debian's libblis-dev is)
//
// openblas: cblas_sgemm, threaded by OpenBLAS itself (its kernels as OPENBLAS_CORETYPE or the
// processor choose); onednn: dnnl_sgemm, threaded with OpenMP (where built with oneDNN, as
// normgrad is when Debian's libdnnl-dev is there). bench/bench.py runs every library built in and
// takes the faster for each model: the machine's limit with the fastest GEMM available on it
// (both are checked for correctness on these shapes by tests/test_gemm_libraries.cpp). BLIS
// (bli_sgemm, built as sgemm_ceiling_blis: its CBLAS symbols would clash with OpenBLAS's) was
// measured for the choice of library only (bench/gemm_libraries.sh, docs/performance.md).
//
// The shapes are those of a GEMM-based implementation at batch B = 128 (row-major, C = op(A) op(B),
// op(A) [M, K], op(B) [K, N]), forward and backward with their transposes:
//   Dense in -> out, x [B, in], w [out, in]:
//     forward  y  = x w^T      M = B,   N = out, K = in    (A no-trans, B trans)
//     input    dx = dy w       M = B,   N = in,  K = out   (no-trans, no-trans)
//     weight   dw = dy^T x     M = out, N = in,  K = B     (trans, no-trans)
//   Conv2d C -> O, k x k, on P = OH * OW output pixels per image, im2col matrix cols [C k k, B P]:
//     forward  out   = w cols      M = O,     N = B P,   K = C k k   (no-trans, no-trans)
//     input    dcols = w^T dout    M = C k k, N = B P,   K = O       (trans, no-trans)
//     weight   dw    = dout cols^T M = O,     N = C k k, K = B P     (no-trans, trans)
// The first layer of each model has no input gradient (the images need none), so it has no
// "input" product. Each product is timed alone (the median of repeated calls, after warm-up);
// a model's ceiling is the sum of its products' times, scaled to an epoch of 60,000 images:
//   ceiling seconds = (60000 / B) * sum over products of (median seconds per call)
//   ceiling GFLOP/s = model GEMM FLOPs per epoch / ceiling seconds, FLOPs = 2 M N K per product.
// Last, one large square product (kPeakSize cubed, no transposes), where a GEMM's kernels run
// near their best, as a "peak" line. bench/bench.py takes the fastest rate of all these lines
// (small products in cache can beat the square one by a few percent) as the machine's GEMM peak:
// an mlp model's GEMM FLOPs at that rate bound its epoch in any framework using these GEMMs.
#include <omp.h>
#if defined(SGEMM_WITH_BLIS)
#include <blis.h>
#else
#include <cblas.h>
#endif
#if defined(NORMGRAD_WITH_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int kBatch = 128;
constexpr int kPeakSize = 1536;  // 7.2 GFLOP a call: ~70 ms on one AVX-512 core
constexpr double kEpochImages = 60000.0;

struct Product {
    std::string layer, pass;  // "conv2", "forward" / "input" / "weight"
    bool trans_a, trans_b;
    int M, N, K;
};

void dense(std::vector<Product>& v, const std::string& name, int in, int out, bool first) {
    v.push_back({name, "forward", false, true, kBatch, out, in});
    if (!first) v.push_back({name, "input", false, false, kBatch, in, out});
    v.push_back({name, "weight", true, false, out, in, kBatch});
}

void conv(std::vector<Product>& v, const std::string& name, int C, int O, int k, int P,
          bool first) {
    const int rows = C * k * k, cols = kBatch * P;
    v.push_back({name, "forward", false, false, O, cols, rows});
    if (!first) v.push_back({name, "input", true, false, rows, cols, O});
    v.push_back({name, "weight", false, true, O, rows, cols});
}

// The models of train/models.cpp (BatchNorm adds no GEMM, so mlp and mlp+BN share one list).
std::vector<Product> mlp() {
    std::vector<Product> v;
    dense(v, "fc1", 784, 256, true);
    dense(v, "fc2", 256, 256, false);
    dense(v, "fc3", 256, 10, false);
    return v;
}

std::vector<Product> cnn() {
    std::vector<Product> v;
    conv(v, "conv1", 1, 32, 3, 28 * 28, true);
    conv(v, "conv2", 32, 64, 3, 14 * 14, false);
    dense(v, "fc1", 64 * 7 * 7, 128, false);
    dense(v, "fc2", 128, 10, false);
    return v;
}

[[maybe_unused]] bool use_onednn = false;

double seconds_per_call(const Product& p, double min_seconds) {
    std::mt19937 gen(42);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    std::vector<float> a(size_t(p.M) * p.K), b(size_t(p.K) * p.N), c(size_t(p.M) * p.N, 0.f);
    for (float& x : a) x = dist(gen);
    for (float& x : b) x = dist(gen);
    const int lda = p.trans_a ? p.M : p.K, ldb = p.trans_b ? p.K : p.N;
    auto call = [&] {
#if defined(NORMGRAD_WITH_ONEDNN)
        if (use_onednn) {
            dnnl_sgemm(p.trans_a ? 'T' : 'N', p.trans_b ? 'T' : 'N', p.M, p.N, p.K, 1.f, a.data(),
                       lda, b.data(), ldb, 0.f, c.data(), p.N);
            return;
        }
#endif
#if defined(SGEMM_WITH_BLIS)
        float one = 1.f, zero = 0.f;  // row-major: row stride ld, column stride 1
        bli_sgemm(p.trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                  p.trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, p.M, p.N, p.K, &one, a.data(),
                  lda, 1, b.data(), ldb, 1, &zero, c.data(), p.N, 1);
#else
        cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
                    p.trans_b ? CblasTrans : CblasNoTrans, p.M, p.N, p.K, 1.f, a.data(), lda,
                    b.data(), ldb, 0.f, c.data(), p.N);
#endif
    };
    using Clock = std::chrono::steady_clock;
    for (int i = 0; i < 2; ++i) call();  // warm-up: caches, OpenBLAS buffers, threads
    std::vector<double> times;
    const auto start = Clock::now();
    while (times.size() < 5 ||
           std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
        const auto t0 = Clock::now();
        call();
        times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 1;
    double min_seconds = 0.3;
    std::string library = "openblas";
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
        } else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) {
            min_seconds = std::atof(argv[++i]);
        } else if (!std::strcmp(argv[i], "--library") && i + 1 < argc) {
            library = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: sgemm_ceiling [--threads T] [--seconds S per shape] "
                         "[--library openblas|onednn]\n");
            return 2;
        }
    }
    if (threads < 1) threads = 1;
#if defined(SGEMM_WITH_BLIS)
    if (library != "blis") {
        std::fprintf(stderr, "sgemm_ceiling_blis: --library %s: this build has blis only\n",
                     library.c_str());
        return 2;
    }
    bli_thread_set_num_threads(threads);
#else
    if (library == "onednn") {
#if defined(NORMGRAD_WITH_ONEDNN)
        use_onednn = true;
#else
        std::fprintf(stderr, "sgemm_ceiling: --library onednn: built without oneDNN\n");
        return 2;
#endif
    } else if (library != "openblas") {
        std::fprintf(stderr, "sgemm_ceiling: --library %s: expected openblas or onednn\n",
                     library.c_str());
        return 2;
    }
    openblas_set_num_threads(threads);
#endif
    omp_set_num_threads(threads);

    const std::pair<const char*, std::vector<Product>> models[] = {{"mlp", mlp()}, {"cnn", cnn()}};
    for (const auto& [model, products] : models) {
        double flops = 0.0, seconds = 0.0;
        for (const Product& p : products) {
            const double f = 2.0 * p.M * p.N * p.K;
            const double s = seconds_per_call(p, min_seconds);
            flops += f;
            seconds += s;
            std::printf(
                "{\"type\":\"product\",\"library\":\"%s\",\"model\":\"%s\",\"threads\":%d,"
                "\"layer\":\"%s\","
                "\"pass\":\"%s\",\"trans_a\":%s,\"trans_b\":%s,\"M\":%d,\"N\":%d,\"K\":%d,"
                "\"seconds\":%.6g,\"gflops\":%.2f}\n",
                library.c_str(), model, threads, p.layer.c_str(), p.pass.c_str(),
                p.trans_a ? "true" : "false", p.trans_b ? "true" : "false", p.M, p.N, p.K, s,
                f / s / 1e9);
        }
        const double batches = kEpochImages / kBatch;
        std::printf(
            "{\"type\":\"model\",\"library\":\"%s\",\"model\":\"%s\",\"threads\":%d,"
            "\"batch\":%d,"
            "\"epoch_gflop\":%.3f,\"ceiling_seconds\":%.4f,\"ceiling_gflops\":%.2f}\n",
            library.c_str(), model, threads, kBatch, flops * batches / 1e9, seconds * batches,
            flops / seconds / 1e9);
        std::fflush(stdout);
    }
    const Product square{"square", "peak", false, false, kPeakSize, kPeakSize, kPeakSize};
    const double s = seconds_per_call(square, min_seconds);
    std::printf(
        "{\"type\":\"peak\",\"library\":\"%s\",\"threads\":%d,\"M\":%d,\"N\":%d,"
        "\"K\":%d,\"seconds\":%.6g,\"gflops\":%.2f}\n",
        library.c_str(), threads, kPeakSize, kPeakSize, kPeakSize, s,
        2.0 * kPeakSize * kPeakSize * kPeakSize / s / 1e9);
    return 0;
}
