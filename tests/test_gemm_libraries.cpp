// Every GEMM library built in (gemm_libraries(): OpenBLAS, and oneDNN where found) computes, on
// this machine, the products of every shape the models use, and odd ones, within a tight bound
// of a double-precision reference.
//
// The models' shapes are recorded, not listed: with kernels::set_gemm_observer set, one training
// step and one evaluation forward of each model (the mlp and cnn presets and the ResNet spec of
// examples/specs/resnet-mnist.arch, BatchNorm off and on) at batch 128, at 1 and at 2 threads
// (the threads' split of a product changes the blocks' shapes), record each distinct product
// (transposes, M, N, K and the leading dimensions). Each library then computes each of them on
// random values in [-1, 1] through kernels::gemm_serial, with those leading dimensions.
#include <catch2/catch.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cli_helpers.hpp"
#include "kernels/gemm.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/cpu.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/random.hpp"
#include "normgrad/train/models.hpp"

using namespace normgrad;

namespace {

struct GemmShape {
    bool trans_a, trans_b;
    int64_t M, N, K, lda, ldb, ldc;
    auto operator<=>(const GemmShape&) const = default;
};

std::ostream& operator<<(std::ostream& os, const GemmShape& s) {
    return os << (s.trans_a ? "A^T " : "A ") << (s.trans_b ? "B^T " : "B ") << "M " << s.M << " N "
              << s.N << " K " << s.K << " lda " << s.lda << " ldb " << s.ldb << " ldc " << s.ldc;
}

// Restores the GEMM library in use when a test ends, passed or failed.
struct LibraryGuard {
    std::string saved = gemm_library();
    ~LibraryGuard() { set_gemm_library(saved); }
};

void use_library(const std::string& name) {
    set_gemm_library(name);
    REQUIRE(gemm_library() == name);
}

// ---- Recording the models' shapes ----

std::mutex recorded_mutex;
std::set<GemmShape>* recorded = nullptr;

void record_shape(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                  int64_t ldb, int64_t ldc) {
    const std::lock_guard<std::mutex> lock(recorded_mutex);
    if (recorded) recorded->insert({trans_a, trans_b, M, N, K, lda, ldb, ldc});
}

// Sets the observer for a scope, and removes it at the end, passed or failed.
struct Recording {
    explicit Recording(std::set<GemmShape>& into) {
        recorded = &into;
        kernels::set_gemm_observer(record_shape);
    }
    ~Recording() {
        kernels::set_gemm_observer(nullptr);
        recorded = nullptr;
    }
};

struct ThreadsGuard {
    int saved = num_threads();
    explicit ThreadsGuard(int n) { set_num_threads(n); }
    ~ThreadsGuard() { set_num_threads(saved); }
};

// The spec of a .arch file, without its comment lines (as `normgrad train --arch @FILE` reads it).
std::string read_arch_file(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in);
    std::string spec;
    for (std::string line; std::getline(in, line);) {
        const size_t first = line.find_first_not_of(" \t\r");
        if (first != std::string::npos && line[first] != '#') spec += line + " ";
    }
    return spec;
}

// One training step (forward, loss, backward) and one evaluation forward of each model, at
// batch 128 on random 28x28 images, at 1 and at 2 threads. The shapes do not depend on the
// library that computes the products; the models run on OpenBLAS here, so that a broken
// library (a wrong transpose reads outside its matrices and may crash) shows up in the checks
// below, product by product, rather than as a crash while recording.
std::set<GemmShape> record_model_shapes() {
    LibraryGuard library;
    use_library("openblas");
    std::vector<train::ModelSpec> specs;
    for (const char* kind : {"mlp", "cnn", "arch"})
        for (const train::Norm& norm : {train::Norm::none(), train::Norm::batch()}) {
            train::ModelSpec s;
            s.kind = kind;
            if (s.kind == "arch")
                s.arch = read_arch_file(std::string(NORMGRAD_SOURCE_DIR) +
                                        "/examples/specs/resnet-mnist.arch");
            s.norm = norm;
            specs.push_back(s);
        }
    constexpr int64_t batch = 128;
    Rng data_rng(7);
    const Tensor images = Tensor::randn({batch, 1, 28, 28}, data_rng);
    std::vector<int32_t> labels(static_cast<size_t>(batch));
    for (auto& l : labels) l = static_cast<int32_t>(data_rng.next_u64() % 10);

    std::set<GemmShape> shapes;
    Recording recording(shapes);
    for (int threads : {1, 2}) {
        ThreadsGuard t(threads);
        for (const train::ModelSpec& spec : specs) {
            INFO(train::spec_text(spec)
                 << ", norm " << train::to_string(spec.norm) << ", " << threads << " threads");
            Rng init(1);
            auto model = train::build_model(spec, init);
            model->train();
            autograd::backward(cross_entropy((*model)(images), labels));
            model->eval();
            autograd::NoGradGuard no_grad;
            const Tensor logits = (*model)(images);
            REQUIRE(logits.shape() == Shape{batch, 10});
        }
    }
    return shapes;
}

// ---- Checking one product ----

// The bound per entry of C = alpha op(A) op(B) + beta C0, against the same sum in double:
//   |c - ref| <= 1e-5 (|alpha| sum_k |a_ik b_kj| + |beta c0|) + 1e-30.
// A float sum rounds each partial sum by at most 2^-24 (6e-8) of itself, and no partial sum
// exceeds sum_k |a_ik b_kj|; with values of random signs the roundings add up like a random
// walk, so a library's blocked sum stays within a few 1e-7 of that sum even at the models'
// largest K (3136), whatever the blocking and the order of the additions (measured: at most
// 2.2e-7 of it, for OpenBLAS and oneDNN alike, over all the shapes below). A wrong transpose or
// leading dimension, a term left out or counted twice, or beta ignored moves an entry by a whole
// term or more: |a_ik b_kj| is on average sum |a b| / K, above 1e-5 of it for every K here, and
// many entries are checked, so such an error cannot hide. (The 1e-30 admits an exact 0 = 0.)
constexpr double kRelTol = 1e-5;

struct Operands {
    std::vector<float> A, B, C;
};

// Stored A is M rows (A^T: K rows) of lda floats, B is K rows (B^T: N rows) of ldb, C M rows of
// ldc; all of it random, the padding beyond each row's end included. A and B have room for
// max(M, K) and max(K, N) rows (the rows past the matrix hold 1s), so that a library that takes
// a matrix the wrong way round reads wrong values, and fails the check, instead of reading past
// the end of the allocation.
Operands random_operands(const GemmShape& s, uint64_t seed) {
    Rng rng(seed);
    auto fill = [&](int64_t rows, int64_t room, int64_t ld) {
        ld = std::max<int64_t>(ld, 1);
        std::vector<float> v(size_t(std::max<int64_t>(std::max(rows, room) * ld, 1)), 1.f);
        for (int64_t i = 0; i < rows * ld; ++i)
            v[size_t(i)] = static_cast<float>(rng.uniform(-1.0, 1.0));
        return v;
    };
    const int64_t a_rows = s.trans_a ? s.K : s.M, b_rows = s.trans_b ? s.N : s.K;
    return {fill(a_rows, std::max(s.M, s.K), s.lda), fill(b_rows, std::max(s.K, s.N), s.ldb),
            fill(s.M, s.M, s.ldc)};
}

// Computes C = alpha op(A) op(B) + beta C with the library in use and checks the entries (all,
// or a random sample of about 2000 for large C) against the double reference, and that the
// padding of C beyond N in each row is left as it was. One CHECK per call.
void check_product(const GemmShape& s, float alpha, float beta, uint64_t seed) {
    INFO(s << " alpha " << alpha << " beta " << beta);
    Operands op = random_operands(s, seed);
    std::vector<float> C0 = op.C;
    if (beta == 0.f)  // beta = 0 must not read C: a NaN there must not come through
        for (int64_t i = 0; i < s.M; ++i)
            for (int64_t j = 0; j < s.N; ++j) op.C[size_t(i * s.ldc + j)] = NAN;
    try {
        kernels::gemm_serial(s.trans_a, s.trans_b, s.M, s.N, s.K, alpha, op.A.data(), s.lda,
                             op.B.data(), s.ldb, beta, op.C.data(), s.ldc);
    } catch (const std::exception& e) {  // (oneDNN refuses leading dimensions too small)
        FAIL_CHECK("gemm_serial threw: " << e.what());
        return;
    }

    auto a = [&](int64_t i, int64_t k) {
        return double(s.trans_a ? op.A[size_t(k * s.lda + i)] : op.A[size_t(i * s.lda + k)]);
    };
    auto b = [&](int64_t k, int64_t j) {
        return double(s.trans_b ? op.B[size_t(j * s.ldb + k)] : op.B[size_t(k * s.ldb + j)]);
    };
    std::vector<std::pair<int64_t, int64_t>> entries;
    constexpr int64_t kSample = 2000;
    if (s.M * s.N <= 2 * kSample) {
        for (int64_t i = 0; i < s.M; ++i)
            for (int64_t j = 0; j < s.N; ++j) entries.emplace_back(i, j);
    } else {
        Rng pick(seed + 1);
        entries = {{0, 0}, {0, s.N - 1}, {s.M - 1, 0}, {s.M - 1, s.N - 1}};
        for (int64_t e = 0; e < kSample; ++e)
            entries.emplace_back(int64_t(pick.next_u64() % uint64_t(s.M)),
                                 int64_t(pick.next_u64() % uint64_t(s.N)));
    }
    int64_t bad = 0;
    double worst_ratio = 0.0;
    std::string first_bad;
    for (auto [i, j] : entries) {
        double ref = 0.0, abs_sum = 0.0;
        for (int64_t k = 0; k < s.K; ++k) {
            const double t = a(i, k) * b(k, j);
            ref += t;
            abs_sum += std::abs(t);
        }
        const double c0 = C0[size_t(i * s.ldc + j)];
        const double expected = double(alpha) * ref + (beta == 0.f ? 0.0 : double(beta) * c0);
        const double bound =
            kRelTol * (std::abs(double(alpha)) * abs_sum + std::abs(double(beta) * c0)) + 1e-30;
        const double got = op.C[size_t(i * s.ldc + j)], err = std::abs(got - expected);
        worst_ratio = std::max(worst_ratio, err / bound);
        if (!(err <= bound)) {  // (a NaN fails too)
            if (bad++ == 0) {
                std::ostringstream os;
                os << "C[" << i << ", " << j << "] = " << got << ", reference " << expected
                   << ", bound " << bound;
                first_bad = os.str();
            }
        }
    }
    int64_t padding_changed = 0;
    for (int64_t i = 0; i < s.M; ++i)
        for (int64_t j = s.N; j < s.ldc; ++j)
            if (op.C[size_t(i * s.ldc + j)] != C0[size_t(i * s.ldc + j)]) ++padding_changed;
    INFO(bad << " of " << entries.size() << " entries checked out of bounds (worst at "
             << worst_ratio << " of the bound); " << first_bad
             << "; padding entries of C written: " << padding_changed);
    CHECK((bad == 0 && padding_changed == 0));
}

}  // namespace

TEST_CASE(
    "gemm libraries: each computes every product shape the models use, within 1e-5 of "
    "sum |a b| of a double reference",
    "[gemm]") {
    const std::set<GemmShape> shapes = record_model_shapes();
    INFO(shapes.size() << " distinct products recorded");
    CHECK(shapes.size() > 10);
    int64_t transposed = 0;
    for (const GemmShape& s : shapes) transposed += s.trans_a || s.trans_b;
    CHECK(transposed > 0);  // the backward passes' products

    LibraryGuard guard;
    for (const std::string& library : gemm_libraries()) {
        INFO("library " << library);
        use_library(library);
        uint64_t seed = 100;
        for (const GemmShape& s : shapes) check_product(s, 1.f, 0.f, ++seed);
        // beta = 1 (the accumulated gradients) and alpha != 1, on every fifth shape.
        int n = 0;
        for (const GemmShape& s : shapes)
            if (n++ % 5 == 0) {
                check_product(s, 1.f, 1.f, ++seed);
                check_product(s, -0.75f, 1.f, ++seed);
                check_product(s, 2.5f, 0.f, ++seed);
            }
    }
}

TEST_CASE(
    "gemm libraries: each computes odd shapes, every transpose, alpha and beta, within "
    "1e-5 of sum |a b| of a double reference",
    "[gemm]") {
    std::vector<GemmShape> shapes;
    for (bool ta : {false, true})
        for (bool tb : {false, true})
            for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                   {1, 1, 17},
                                   {1, 33, 129},
                                   {17, 1, 129},
                                   {17, 33, 1},
                                   {17, 33, 129},
                                   {33, 17, 129},
                                   {5, 7, 0},
                                   {1, 1, 0},
                                   {100, 3, 15},
                                   {3, 100, 7},
                                   {16, 16, 16},
                                   {31, 65, 300}})
                for (int64_t pad : {0, 3}) {  // contiguous, and rows longer than the matrix
                    const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
                    shapes.push_back({ta, tb, M, N, K, lda, ldb, ldc});
                }
    LibraryGuard guard;
    for (const std::string& library : gemm_libraries()) {
        INFO("library " << library);
        use_library(library);
        uint64_t seed = 1000;
        for (const GemmShape& s : shapes)
            for (auto [alpha, beta] : {std::pair{1.f, 0.f}, {1.f, 1.f}, {-0.5f, 2.f}, {3.f, 0.f}})
                check_product(s, alpha, beta, ++seed);
    }
}

namespace {

std::atomic<int64_t> signals_handled{0};
void count_signal(int) {
    signals_handled.fetch_add(1, std::memory_order_relaxed);
}

// A handler for SIGUSR1 that only counts, and a thread that sends SIGUSR1 to the thread that
// made this object every 20 microseconds, until the object ends (then the old handler is back).
class SignalStorm {
  public:
    SignalStorm() : target_(pthread_self()) {
        struct sigaction sa {};
        sa.sa_handler = count_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &sa, &saved_);
        sender_ = std::thread([this] {
            while (!done_.load()) {
                pthread_kill(target_, SIGUSR1);
                std::this_thread::sleep_for(std::chrono::microseconds(20));
            }
        });
    }
    ~SignalStorm() {
        done_.store(true);
        sender_.join();
        sigaction(SIGUSR1, &saved_, nullptr);
    }
    SignalStorm(const SignalStorm&) = delete;
    SignalStorm& operator=(const SignalStorm&) = delete;

  private:
    pthread_t target_;
    struct sigaction saved_ {};
    std::atomic<bool> done_{false};
    std::thread sender_;
};

// The products of `shapes`, each computed once quietly and then 100 times while SIGUSR1 rains on
// the thread, in a child process (a corrupted heap aborts it, and must not take the test program
// down, nor hang it in Catch's own abort handler). Returns the child's exit status (128 + the
// signal that ended it): 0 when every product equalled its quiet twin bit for bit and signals
// were handled, 1 when a product differed, 2 when no signal was handled.
int products_under_signals(const std::vector<GemmShape>& shapes) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        int64_t differing = 0, handled = 0;
        for (const GemmShape& s : shapes) {
            const Operands op = random_operands(s, 7);
            std::vector<float> quiet = op.C;
            kernels::gemm_serial(s.trans_a, s.trans_b, s.M, s.N, s.K, 1.f, op.A.data(), s.lda,
                                 op.B.data(), s.ldb, 0.f, quiet.data(), s.ldc);
            const int64_t before = signals_handled.load();
            {
                SignalStorm storm;
                for (int rep = 0; rep < 100; ++rep) {
                    std::vector<float> c = op.C;
                    kernels::gemm_serial(s.trans_a, s.trans_b, s.M, s.N, s.K, 1.f, op.A.data(),
                                         s.lda, op.B.data(), s.ldb, 0.f, c.data(), s.ldc);
                    differing += std::memcmp(c.data(), quiet.data(), c.size() * sizeof(float)) != 0;
                }
            }
            handled += signals_handled.load() - before;
        }
        _exit(differing > 0 ? 1 : handled == 0 ? 2 : 0);
    }
    int status = 0;
    for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; ++waited) {
        if (waited == 600) {  // a minute: a deadlocked heap
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return testing::decode_status(status);
}

}  // namespace

// Debian's oneDNN 2.6 runs its JIT sgemm with the stack pointer inside a heap buffer (oneDNN
// issue 4845): a signal handled meanwhile wrote its frame over the heap, and a Ctrl-C during
// training aborted the run ("corrupted size vs. prev_size"). gemm_serial holds the asynchronous
// signals during the call (src/kernels/gemm.cpp). Here signals rain on the thread computing the
// mlp's products (its forward and both backward products at batch 32): every result must equal
// the same product computed without signals, and the heap must stay whole.
TEST_CASE("gemm libraries: signals handled during the products change neither them nor the heap",
          "[gemm]") {
    const std::vector<GemmShape> shapes = {
        {false, true, 32, 256, 784, 784, 784, 256},   // x W^T
        {false, false, 32, 784, 256, 256, 784, 784},  // dx = g W
        {true, false, 256, 784, 32, 256, 784, 784},   // dW = g^T x
        {false, true, 32, 10, 256, 256, 256, 10}};
    LibraryGuard guard;
    for (const std::string& library : gemm_libraries()) {
        INFO("library " << library
                        << " (exit status 1: a product changed; 2: no signal was "
                           "handled; 134: the heap was corrupted; 137: the heap deadlocked)");
        use_library(library);
        CHECK(products_under_signals(shapes) == 0);
    }
}

namespace {
std::atomic<int64_t> products_seen{0};
void count_product(bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) {
    products_seen.fetch_add(1, std::memory_order_relaxed);
}

// The products a convolution's forward and backward make, and how often the signals were held
// meanwhile. The observer is removed at the end, passed or failed.
struct ConvCounts {
    int64_t forward_products, forward_holds, backward_products, backward_holds;
};
std::ostream& operator<<(std::ostream& os, const ConvCounts& c) {
    return os << "forward: " << c.forward_products << " products, signals held " << c.forward_holds
              << " times; backward: " << c.backward_products << " products, held "
              << c.backward_holds << " times";
}
ConvCounts count_conv(const Tensor& x, const Tensor& w, const Tensor& b, ConvAlgorithm algorithm) {
    struct Observing {
        Observing() {
            products_seen = 0;
            kernels::set_gemm_observer(count_product);
        }
        ~Observing() { kernels::set_gemm_observer(nullptr); }
    } observing;
    ConvCounts c{};
    int64_t before = kernels::signal_hold_count();
    Tensor y = conv2d(x, w, b, {1, 1, algorithm});
    c.forward_holds = kernels::signal_hold_count() - before;
    c.forward_products = products_seen.exchange(0);
    before = kernels::signal_hold_count();
    autograd::backward(sum(y));
    c.backward_holds = kernels::signal_hold_count() - before;
    c.backward_products = products_seen.exchange(0);
    return c;
}
}  // namespace

// gemm_serial holds the asynchronous signals around each oneDNN product (two system calls); a
// convolution makes many products a call (a Winograd one hundreds), inside a
// kernels::ProductsScope that holds them once per thread instead.
TEST_CASE("gemm libraries: a convolution holds the signals once per thread, not per product",
          "[gemm]") {
    const std::vector<std::string> libraries = gemm_libraries();
    if (std::find(libraries.begin(), libraries.end(), "onednn") == libraries.end()) {
        WARN("oneDNN is not built in: nothing holds the signals");
        return;
    }
    LibraryGuard guard;
    use_library("onednn");
    ThreadsGuard threads(1);
    Rng rng(5);
    Tensor x = Tensor::randn({8, 4, 14, 14}, rng).set_requires_grad();
    Tensor w = Tensor::randn({6, 4, 3, 3}, rng).set_requires_grad();
    Tensor b = Tensor::randn({6}, rng).set_requires_grad();

    // One product outside any scope: gemm_serial holds the signals itself.
    std::vector<float> A(6, 1.f), B(6, 1.f), C(4, 0.f);
    const int64_t before = kernels::signal_hold_count();
    kernels::gemm_serial(false, false, 2, 2, 3, 1.f, A.data(), 3, B.data(), 2, 0.f, C.data(), 2);
    CHECK(kernels::signal_hold_count() - before == 1);
    CHECK(C == std::vector<float>(4, 3.f));

    const ConvCounts winograd = count_conv(x, w, b, ConvAlgorithm::Winograd);
    INFO("Winograd " << winograd);
    CHECK(winograd.forward_products >= 16);
    CHECK(winograd.backward_products >= 32);
    CHECK(winograd.forward_holds == 1);
    CHECK(winograd.backward_holds == 1);

    // The im2col path: one product an image forward, two backward (4 input channels of 3x3 make
    // rows of 36, past the small kernels' 32: the library computes them).
    const ConvCounts im2col = count_conv(x, w, b, ConvAlgorithm::Im2col);
    INFO("im2col " << im2col);
    CHECK(im2col.forward_products == 8);
    CHECK(im2col.backward_products == 16);
    CHECK(im2col.forward_holds == 1);
    CHECK(im2col.backward_holds == 1);
}
