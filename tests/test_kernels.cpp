// The fast paths of the operations against plain reference code: both convolution algorithms
// (forward and every gradient, against a direct double-precision convolution), the small-matrix
// kernels, the threaded GEMM split, first-write versus accumulated gradients, and results at one
// and two threads.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/small_gemm.hpp"
#include "kernels/winograd.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/gradcheck.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/parallel.hpp"
#include "random_tensors.hpp"

using namespace normgrad;
using normgrad::testing::randn;

namespace {

// Restores one thread when a test ends (tests may change the count).
struct Threads {
    explicit Threads(int n) { set_num_threads(n); }
    ~Threads() { set_num_threads(1); }
};

struct ConvCase {
    int64_t N, C, H, W, O, k, stride, padding;
};

// y[n, o, oh, ow] = b[o] + sum_{c, i, j} x[n, c, oh s - p + i, ow s - p + j] w[o, c, i, j]
std::vector<double> reference_conv(const ConvCase& c, const std::vector<float>& x,
                                   const std::vector<float>& w, const std::vector<float>& b,
                                   int64_t OH, int64_t OW) {
    std::vector<double> y(size_t(c.N * c.O * OH * OW));
    for (int64_t n = 0; n < c.N; ++n)
        for (int64_t o = 0; o < c.O; ++o)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) {
                    double s = b[size_t(o)];
                    for (int64_t ci = 0; ci < c.C; ++ci)
                        for (int64_t i = 0; i < c.k; ++i)
                            for (int64_t j = 0; j < c.k; ++j) {
                                const int64_t ih = oh * c.stride - c.padding + i,
                                              iw = ow * c.stride - c.padding + j;
                                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                                s += double(x[size_t(((n * c.C + ci) * c.H + ih) * c.W + iw)]) *
                                     w[size_t(((o * c.C + ci) * c.k + i) * c.k + j)];
                            }
                    y[size_t(((n * c.O + o) * OH + oh) * OW + ow)] = s;
                }
    return y;
}

// The gradients of L = sum r * y, by the same direct loops (the adjoint of reference_conv).
void reference_conv_grads(const ConvCase& c, const std::vector<float>& x,
                          const std::vector<float>& w, const std::vector<float>& r, int64_t OH,
                          int64_t OW, std::vector<double>& dx, std::vector<double>& dw,
                          std::vector<double>& db) {
    dx.assign(x.size(), 0.0);
    dw.assign(w.size(), 0.0);
    db.assign(size_t(c.O), 0.0);
    for (int64_t n = 0; n < c.N; ++n)
        for (int64_t o = 0; o < c.O; ++o)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) {
                    const double g = r[size_t(((n * c.O + o) * OH + oh) * OW + ow)];
                    db[size_t(o)] += g;
                    for (int64_t ci = 0; ci < c.C; ++ci)
                        for (int64_t i = 0; i < c.k; ++i)
                            for (int64_t j = 0; j < c.k; ++j) {
                                const int64_t ih = oh * c.stride - c.padding + i,
                                              iw = ow * c.stride - c.padding + j;
                                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                                const size_t xi = size_t(((n * c.C + ci) * c.H + ih) * c.W + iw);
                                const size_t wi = size_t(((o * c.C + ci) * c.k + i) * c.k + j);
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                }
}

// |a - b| <= tol * (1 + max |b|) elementwise: float rounding of sums of many products.
void check_close(const float* a, const std::vector<double>& b, double tol) {
    double scale = 1.0;
    for (double v : b) scale = std::max(scale, std::abs(v));
    double worst = 0.0;
    for (size_t i = 0; i < b.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    INFO("worst difference " << worst << " against a scale of " << scale);
    CHECK(worst <= tol * scale);
}

void check_conv_case(const ConvCase& c, ConvAlgorithm algorithm) {
    INFO("N " << c.N << " C " << c.C << " " << c.H << "x" << c.W << " O " << c.O << " kernel "
              << c.k << " stride " << c.stride << " padding " << c.padding << " algorithm "
              << int(algorithm));
    Tensor x = randn({c.N, c.C, c.H, c.W}, 1).set_requires_grad();
    Tensor w = randn({c.O, c.C, c.k, c.k}, 2, 0.3f).set_requires_grad();
    Tensor b = randn({c.O}, 3).set_requires_grad();
    Conv2dParams p{int(c.stride), int(c.padding), algorithm};
    Tensor y = conv2d(x, w, b, p);
    const int64_t OH = y.dim(2), OW = y.dim(3);
    check_close(y.data(), reference_conv(c, x.to_vector(), w.to_vector(), b.to_vector(), OH, OW),
                1e-5);

    Tensor r = randn(y.shape(), 4);
    autograd::backward(sum(mul(y, r)));
    std::vector<double> dx, dw, db;
    reference_conv_grads(c, x.to_vector(), w.to_vector(), r.to_vector(), OH, OW, dx, dw, db);
    check_close(x.grad(), dx, 1e-5);
    check_close(w.grad(), dw, 1e-5);
    check_close(b.grad(), db, 1e-5);
}

}  // namespace

TEST_CASE("conv2d: both algorithms match a direct convolution, forward and backward",
          "[kernels][conv]") {
    for (const ConvCase& c :
         {ConvCase{2, 1, 28, 28, 8, 3, 1, 1}, ConvCase{3, 5, 14, 14, 7, 3, 1, 1},
          ConvCase{2, 4, 7, 9, 3, 3, 1, 1}, ConvCase{1, 6, 8, 5, 4, 3, 1, 0},
          ConvCase{2, 3, 5, 6, 2, 3, 1, 2}, ConvCase{1, 2, 3, 3, 2, 3, 1, 0},
          ConvCase{5, 9, 6, 6, 5, 3, 1, 1},
          // C or O a multiple of 8: Winograd's transforms across channels (input, output, both)
          ConvCase{2, 8, 14, 14, 5, 3, 1, 1}, ConvCase{3, 16, 7, 9, 4, 3, 1, 0},
          ConvCase{2, 8, 5, 6, 3, 3, 1, 2}, ConvCase{12, 8, 14, 14, 3, 3, 1, 1},
          ConvCase{2, 3, 14, 14, 8, 3, 1, 1}, ConvCase{2, 8, 9, 7, 16, 3, 1, 1},
          ConvCase{1, 16, 5, 6, 8, 3, 1, 2}, ConvCase{12, 5, 14, 14, 8, 3, 1, 1}})
        for (ConvAlgorithm a : {ConvAlgorithm::Im2col, ConvAlgorithm::Winograd})
            check_conv_case(c, a);
    // Kernels Winograd cannot do, on both sides of the small-matrix threshold (C k k <= 32).
    for (const ConvCase& c : {ConvCase{2, 3, 9, 8, 4, 5, 2, 2}, ConvCase{2, 2, 6, 7, 3, 1, 1, 0},
                              ConvCase{2, 6, 10, 9, 5, 3, 2, 1}})
        check_conv_case(c, ConvAlgorithm::Auto);
}

TEST_CASE("Winograd kernel: writes or adds each gradient, matching a direct convolution",
          "[kernels][conv]") {
    for (const ConvCase& c :
         {ConvCase{2, 3, 14, 14, 5, 3, 1, 1}, ConvCase{3, 4, 7, 9, 2, 3, 1, 1},
          ConvCase{1, 2, 5, 6, 3, 3, 1, 0}, ConvCase{2, 5, 3, 4, 4, 3, 1, 2},
          ConvCase{1, 33, 11, 6, 3, 3, 1, 1}, ConvCase{2, 16, 14, 14, 5, 3, 1, 1},
          ConvCase{1, 8, 5, 7, 3, 3, 1, 2}, ConvCase{12, 8, 9, 9, 4, 3, 1, 0},
          ConvCase{2, 8, 14, 14, 8, 3, 1, 1}, ConvCase{1, 3, 7, 5, 16, 3, 1, 0}})
        for (bool accumulate : {false, true}) {
            INFO("N " << c.N << " C " << c.C << " " << c.H << "x" << c.W << " padding " << c.padding
                      << " accumulate " << accumulate);
            const auto x = randn({c.N, c.C, c.H, c.W}, 31).to_vector();
            const auto w = randn({c.O, c.C, 3, 3}, 32, 0.3f).to_vector();
            const auto b = randn({c.O}, 33).to_vector();
            const int64_t OH = c.H + 2 * c.padding - 2, OW = c.W + 2 * c.padding - 2;
            kernels::ConvGeometry g{c.N, c.C, c.H, c.W, 3, 3, 1, c.padding, OH, OW};
            std::vector<float> y(size_t(c.N * c.O * OH * OW));
            kernels::winograd_forward(g, c.O, x.data(), w.data(), b.data(), y.data());
            check_close(y.data(), reference_conv(c, x, w, b, OH, OW), 1e-5);

            const auto r = randn({c.N, c.O, OH, OW}, 34).to_vector();
            std::vector<double> dx, dw, db;
            reference_conv_grads(c, x, w, r, OH, OW, dx, dw, db);
            // Accumulating onto 1s must give the reference plus 1; writing must ignore the NaNs.
            const float start = accumulate ? 1.f : NAN;
            std::vector<float> gx(x.size(), start), gw(w.size(), start), gb(b.size(), start);
            kernels::winograd_backward(g, c.O, x.data(), w.data(), r.data(),
                                       {gw.data(), accumulate}, {gb.data(), accumulate},
                                       {gx.data(), accumulate});
            for (auto* v : {&dx, &dw, &db})
                for (double& e : *v) e += accumulate ? 1.0 : 0.0;
            check_close(gx.data(), dx, 1e-5);
            check_close(gw.data(), dw, 1e-5);
            check_close(gb.data(), db, 1e-5);
        }
}

TEST_CASE("conv2d: Winograd passes the finite-difference check", "[kernels][conv][gradcheck]") {
    Tensor x = randn({2, 3, 5, 6}, 5).set_name("x");
    Tensor w = randn({4, 3, 3, 3}, 6).set_name("w"), b = randn({4}, 7).set_name("b");
    for (int padding : {0, 1}) {
        Conv2dParams p{1, padding, ConvAlgorithm::Winograd};
        GradCheckResult r = gradcheck([&] { return conv2d(x, w, b, p); }, {x, w, b});
        INFO(r.report);
        CHECK(r.ok);
    }
    // 8 input and 8 output channels: the transforms across channels, both sides.
    Tensor x8 = randn({1, 8, 5, 6}, 8).set_name("x"), w8 = randn({8, 8, 3, 3}, 9).set_name("w");
    Tensor b8 = randn({8}, 10).set_name("b");
    for (int padding : {0, 1}) {
        Conv2dParams p{1, padding, ConvAlgorithm::Winograd};
        GradCheckResult r = gradcheck([&] { return conv2d(x8, w8, b8, p); }, {x8, w8, b8});
        INFO(r.report);
        CHECK(r.ok);
    }
    CHECK_THROWS_AS(conv2d(x, w, b, {2, 1, ConvAlgorithm::Winograd}), std::invalid_argument);
}

TEST_CASE("conv2d: a second gradient adds onto the first", "[kernels][conv]") {
    for (ConvAlgorithm a : {ConvAlgorithm::Im2col, ConvAlgorithm::Winograd}) {
        Tensor x = randn({2, 4, 6, 6}, 8).set_requires_grad();
        Tensor w = randn({3, 4, 3, 3}, 9).set_requires_grad(),
               b = randn({3}, 10).set_requires_grad();
        Conv2dParams p{1, 1, a};
        autograd::backward(sum(conv2d(x, w, b, p)));
        const auto dx1 = x.grad_vector(), dw1 = w.grad_vector(), db1 = b.grad_vector();
        Tensor y = conv2d(x, w, b, p);
        autograd::backward(sum(add(y, y)));  // y used twice: its gradient is 2, then 2 + 1 = 3
        for (auto [t, g1] : {std::pair{&x, &dx1}, std::pair{&w, &dw1}, std::pair{&b, &db1}})
            for (int64_t i = 0; i < t->numel(); ++i)
                CHECK(t->grad()[i] == Approx(3.f * (*g1)[size_t(i)]).epsilon(1e-5).margin(1e-5));
    }
}

TEST_CASE("conv2d and batch_norm: two threads agree with one, and repeat exactly",
          "[kernels][threads]") {
    auto run = [](int threads) {
        Threads t(threads);
        Tensor x = randn({16, 8, 14, 14}, 11).set_requires_grad();
        Tensor w = randn({16, 8, 3, 3}, 12, 0.2f).set_requires_grad();
        Tensor b = randn({16}, 13).set_requires_grad();
        Tensor g = randn({16}, 14).set_requires_grad(), be = randn({16}, 15).set_requires_grad();
        Tensor y = relu(
            batch_norm(conv2d(x, w, b, {1, 1}), g, be, {}, {}, {}, /*training=*/true, 0.1f, 1e-5f));
        autograd::backward(sum(mul(y, randn(y.shape(), 16))));
        std::vector<std::vector<float>> out{y.to_vector()};
        for (const Tensor* t : {&x, &w, &b, &g, &be}) out.push_back(t->grad_vector());
        return out;
    };
    const auto one = run(1), two = run(2), two_again = run(2);
    CHECK(two == two_again);
    for (size_t k = 0; k < one.size(); ++k) {
        double worst = 0.0, scale = 1.0;
        for (size_t i = 0; i < one[k].size(); ++i) {
            worst = std::max(worst, double(std::abs(one[k][i] - two[k][i])));
            scale = std::max(scale, double(std::abs(one[k][i])));
        }
        INFO("tensor " << k);
        CHECK(worst <= 1e-5 * scale);
    }
}

TEST_CASE("small-matrix kernels match plain loops", "[kernels]") {
    for (auto [M, N, K] : {std::tuple{5, 37, 7}, {8, 16, 9}, {1, 3, 1}, {6, 40, 32}}) {
        const auto A = randn({M, K}, 17).to_vector(), B = randn({K, N}, 18).to_vector();
        const auto bias = randn({M}, 19).to_vector();
        std::vector<float> C(size_t(M * N));
        kernels::gemm_small_k(M, N, K, A.data(), B.data(), bias.data(), C.data());
        std::vector<double> ref(C.size());
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
                double s = bias[size_t(i)];
                for (int k = 0; k < K; ++k)
                    s += double(A[size_t(i * K + k)]) * B[size_t(k * N + j)];
                ref[size_t(i * N + j)] = s;
            }
        check_close(C.data(), ref, 1e-6);
    }
    for (auto [M, K, P] : {std::tuple{5, 7, 37}, {8, 9, 64}, {1, 1, 3}, {4, 3, 8}}) {
        const auto A = randn({M, P}, 20).to_vector(), B = randn({K, P}, 21).to_vector();
        std::vector<float> C(size_t(M * K), 1.f);
        kernels::gemm_dot_small(M, K, P, A.data(), B.data(), C.data(), true);
        std::vector<double> ref(C.size());
        for (int i = 0; i < M; ++i)
            for (int k = 0; k < K; ++k) {
                double s = 1.0;
                for (int p = 0; p < P; ++p)
                    s += double(A[size_t(i * P + p)]) * B[size_t(k * P + p)];
                ref[size_t(i * K + k)] = s;
            }
        check_close(C.data(), ref, 1e-6);
    }
}

TEST_CASE("gemm split between threads matches one call, with every transpose", "[kernels]") {
    Threads threads(2);
    // (The last is split also where threads sleep: kernels/parallel.hpp.)
    for (auto [M, N, K] :
         {std::tuple{200, 90, 70}, {50, 300, 40}, {128, 256, 33}, {128, 256, 160}}) {
        for (bool ta : {false, true})
            for (bool tb : {false, true}) {
                const auto A = randn({M, K}, 22).to_vector(), B = randn({K, N}, 23).to_vector();
                std::vector<float> split(size_t(M * N), NAN), serial(size_t(M * N), NAN);
                kernels::gemm(ta, tb, M, N, K, 1.f, A.data(), B.data(), 0.f, split.data());
                kernels::gemm_serial(ta, tb, M, N, K, 1.f, A.data(), ta ? M : K, B.data(),
                                     tb ? K : N, 0.f, serial.data(), N);
                // (OpenBLAS may round a block's edge differently, so not bit for bit.)
                check_close(split.data(), std::vector<double>(serial.begin(), serial.end()), 1e-6);
            }
    }
}

TEST_CASE("backward writes the first gradient and adds later ones", "[kernels][autograd]") {
    // Every operation with an input used twice: the second contribution must add to the first
    // (a first-write path that overwrote would halve these).
    Tensor x = randn({2, 3, 4, 4}, 24);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] += x.data()[i] > 0 ? 0.1f : -0.1f;
    x.set_requires_grad();
    auto twice = [&](const std::function<Tensor(const Tensor&)>& f) {
        x.zero_grad();
        autograd::backward(sum(f(x)));
        const auto once = x.grad_vector();
        x.zero_grad();
        autograd::backward(sum(add(f(x), f(x))));
        for (int64_t i = 0; i < x.numel(); ++i)
            CHECK(x.grad()[i] == Approx(2.f * once[size_t(i)]).epsilon(1e-6).margin(1e-6));
    };
    twice([](const Tensor& t) { return relu(t); });
    twice([](const Tensor& t) { return max_pool2d(t, {2, 0, 0}); });
    twice([](const Tensor& t) { return max_pool2d(t, {3, 1, 1}); });
    twice([](const Tensor& t) { return flatten(t); });
    twice([](const Tensor& t) { return mul(t, t); });
    twice([](const Tensor& t) {
        Tensor g = Tensor::full({3}, 1.5f), b = Tensor::full({3}, 0.5f);
        return mul(batch_norm(t, g, b, {}, {}, {}, /*training=*/true, 0.1f, 1e-5f), t);
    });
}
