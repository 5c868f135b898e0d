// Every build of the dispatched kernels (kernels/isa.hpp) against the baseline build: for each
// instruction set this processor has above the baseline, each operation whose kernels are
// compiled three times runs through its public entry point, once with set_kernel_isa(baseline)
// and once with the other build, on the same inputs, and every element of every output and
// gradient must agree. Sizes are odd on purpose (lengths 1, 7, 15, 17, 33, 100; images 5x5,
// 7x7, 14x14, 15x15), so that each build's vector remainders and masked tails are exercised.
//
// Covered: conv2d forward and gradients by Winograd (its four transform passes) and by the
// small-matrix kernels (one input channel, src/kernels/small_gemm.cpp); batch_norm in training,
// 4-D and 2-D, forward and backward, written and accumulated; max_pool2d 2x2 forward and
// backward (odd H and W, accumulated); relu, leaky_relu and mul/add (write_grad and
// kernels::write_elements); standardize, forward and backward (written and accumulated);
// standardize_affine and multiply_add, forward and backward (both broadcasts, written and
// accumulated);
// sum_of_squares and update_sums_of_squares (normgrad/norms.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/cpu.hpp"
#include "normgrad/norms.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/random.hpp"
#include "random_tensors.hpp"

using namespace normgrad;
using normgrad::testing::randn;

namespace {

// Restores the kernels' instruction set when a test ends, passed or failed.
struct IsaGuard {
    Isa saved = kernel_isa();
    ~IsaGuard() { set_kernel_isa(saved); }
};

// The instruction sets above the baseline that this processor offers.
std::vector<Isa> isas_above_baseline() {
    std::vector<Isa> out;
    for (int i = static_cast<int>(Isa::avx2); i <= static_cast<int>(cpu_info().best); ++i)
        out.push_back(static_cast<Isa>(i));
    return out;
}

// One operation's outputs, by name ("y", "dx", ...).
using Outputs = std::vector<std::pair<std::string, std::vector<double>>>;

void set_isa(Isa isa) {
    set_kernel_isa(isa);
    REQUIRE(kernel_isa() == isa);
}

// The tolerance, relative to the scale of each tensor (its largest magnitude), per element.
// Every build computes the same expressions on the same operands, and combines rows, channels,
// blocks and threads in the same order (the GEMMs inside conv2d are the same library's in every
// build); the builds differ only in fused multiply-adds (one rounding instead of two) and in how
// a vector loop splits a row's sum among its lanes. Each moves a result by a few float roundings
// (6e-8 relative) of the partial sums involved, and the float sums here are a few hundred terms
// long at most (rows of up to 784 values; the sums of squares split 1024 values into the same
// 32 lanes in every build): far below 1e-5 of the scale. A wrong element (a lane or a remainder
// skipped or written twice, a wrong offset, a gradient written instead of added) is off by the
// order of the values themselves, about 1e5 times the bound, and each element is checked alone.
constexpr double kRelTol = 1e-5;

void check_same(const std::string& what, const std::vector<double>& base,
                const std::vector<double>& got) {
    INFO(what);
    REQUIRE(got.size() == base.size());
    double scale = 0.0;
    for (double v : base) scale = std::max(scale, std::abs(v));
    const double bound = kRelTol * scale + 1e-30;
    size_t bad = 0, first_bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < base.size(); ++i) {
        const double d = std::abs(got[i] - base[i]);
        if (!(d <= bound)) {  // (a NaN fails too)
            if (bad++ == 0) first_bad = i;
        }
        if (!(d <= worst)) worst = d;
    }
    INFO(bad << " of " << base.size() << " elements differ by more than " << bound
             << " (1e-5 of the scale " << scale << "); worst " << worst);
    if (bad)
        INFO("first at index " << first_bad << ": baseline " << base[first_bad] << ", this build "
                               << got[first_bad]);
    CHECK(bad == 0);
}

// Runs `op` under the baseline build, then under every build above it, and compares each output.
void compare_builds(const std::string& what, const std::function<Outputs()>& op) {
    INFO(what);
    const std::vector<Isa> others = isas_above_baseline();
    if (others.empty()) {
        WARN(
            "this processor offers only the baseline instruction set: no other kernel build to "
            "compare with ("
            << what << ")");
        return;
    }
    IsaGuard guard;
    set_isa(Isa::baseline);
    const Outputs base = op();
    for (Isa isa : others) {
        INFO("kernel build " << to_string(isa) << " against baseline");
        set_isa(isa);
        const Outputs got = op();
        REQUIRE(got.size() == base.size());
        for (size_t k = 0; k < base.size(); ++k) {
            REQUIRE(got[k].first == base[k].first);
            check_same(base[k].first, base[k].second, got[k].second);
        }
    }
}

std::vector<double> doubles(const std::vector<float>& v) {
    return {v.begin(), v.end()};
}
std::vector<double> values(const Tensor& t) {
    return doubles(t.to_vector());
}
std::vector<double> grads(const Tensor& t) {
    return doubles(t.grad_vector());
}

// L = sum(r * y) for a fixed random r: its backward hands `y` the gradient r.
void backward_with_random_grad(const Tensor& y, uint64_t seed) {
    autograd::backward(sum(mul(y, randn(y.shape(), seed))));
}

std::string shape_name(const Shape& s) {
    return s.str();
}

// ---- conv2d ----

struct ConvCase {
    int64_t N, C, H, W, O, k, stride, padding;
};

std::string describe(const ConvCase& c) {
    return "conv N " + std::to_string(c.N) + " C " + std::to_string(c.C) + " " +
           std::to_string(c.H) + "x" + std::to_string(c.W) + " O " + std::to_string(c.O) +
           " kernel " + std::to_string(c.k) + " stride " + std::to_string(c.stride) + " padding " +
           std::to_string(c.padding);
}

// The forward, the gradients written by a first backward, and the gradients after a second
// backward of a new forward has added onto them (the accumulating paths of every kernel); x also
// feeds a second convolution in the second pass, so its gradient accumulates within one backward.
Outputs run_conv(const ConvCase& c, ConvAlgorithm algorithm) {
    Tensor x = randn({c.N, c.C, c.H, c.W}, 1).set_requires_grad();
    Tensor w = randn({c.O, c.C, c.k, c.k}, 2, 0.f, 0.3f).set_requires_grad();
    Tensor b = randn({c.O}, 3).set_requires_grad();
    Tensor w2 = randn({c.O, c.C, c.k, c.k}, 4, 0.f, 0.3f).set_requires_grad();
    const Conv2dParams p{int(c.stride), int(c.padding), algorithm};
    Outputs out;
    Tensor y = conv2d(x, w, b, p);
    out.emplace_back("y", values(y));
    backward_with_random_grad(y, 5);
    out.emplace_back("dx", grads(x));
    out.emplace_back("dw", grads(w));
    out.emplace_back("db", grads(b));
    Tensor y2 = add(conv2d(x, w, b, p), conv2d(x, w2, Tensor{}, p));
    out.emplace_back("y (two convolutions)", values(y2));
    backward_with_random_grad(y2, 6);
    out.emplace_back("dx (accumulated)", grads(x));
    out.emplace_back("dw (accumulated)", grads(w));
    out.emplace_back("db (accumulated)", grads(b));
    out.emplace_back("dw2", grads(w2));
    return out;
}

}  // namespace

TEST_CASE("kernel builds: conv2d by Winograd, forward and gradients, match the baseline build",
          "[kernel-builds]") {
    // 3x3, stride 1, more than one input channel: the Winograd transform passes.
    for (const ConvCase& c :
         {ConvCase{2, 3, 5, 5, 4, 3, 1, 1}, ConvCase{2, 4, 7, 7, 5, 3, 1, 1},
          ConvCase{3, 5, 14, 14, 7, 3, 1, 1}, ConvCase{2, 8, 15, 15, 3, 3, 1, 1},
          ConvCase{1, 17, 14, 14, 17, 3, 1, 1}, ConvCase{2, 2, 15, 7, 33, 3, 1, 1},
          ConvCase{2, 6, 7, 15, 5, 3, 1, 0}, ConvCase{1, 3, 5, 5, 2, 3, 1, 2},
          // C or O a multiple of 8: the transforms across channels
          ConvCase{2, 16, 14, 14, 8, 3, 1, 1}, ConvCase{1, 8, 6, 5, 3, 3, 1, 2},
          ConvCase{2, 5, 7, 9, 8, 3, 1, 1}})
        compare_builds("Winograd " + describe(c),
                       [&] { return run_conv(c, ConvAlgorithm::Winograd); });
}

TEST_CASE(
    "kernel builds: conv2d by the small-matrix kernels, forward and gradients, match the "
    "baseline build",
    "[kernel-builds]") {
    // One input channel (C kH kW <= 32, the small-matrix kernels gemm_small_k and
    // gemm_dot_small), as the models' first convolution, and three channels at 3x3 (27 rows).
    for (const ConvCase& c :
         {ConvCase{2, 1, 5, 5, 4, 3, 1, 1}, ConvCase{2, 1, 7, 7, 7, 3, 1, 1},
          ConvCase{3, 1, 14, 14, 17, 3, 1, 1}, ConvCase{2, 1, 15, 15, 1, 3, 1, 1},
          ConvCase{2, 1, 28, 28, 8, 3, 1, 1}, ConvCase{2, 1, 15, 14, 5, 5, 1, 2},
          ConvCase{2, 1, 15, 15, 3, 3, 2, 1}, ConvCase{2, 3, 7, 15, 33, 3, 1, 1}})
        compare_builds("small-matrix " + describe(c),
                       [&] { return run_conv(c, ConvAlgorithm::Auto); });
}

namespace {

// batch_norm in training with running statistics, then a backward; then x used twice, by
// batch_norm and by an addition, so that batch_norm's input gradient is added onto the one the
// addition wrote (and gamma's and beta's onto the first backward's).
Outputs run_batch_norm(const Shape& shape) {
    const int64_t C = shape[1];
    // A mean away from 0 and a spread away from 1, so that both are actually removed.
    Tensor x = randn(shape, 11, 0.7f, 2.f).set_requires_grad();
    Tensor gamma = randn({C}, 12, 1.f, 0.5f).set_requires_grad();
    Tensor beta = randn({C}, 13).set_requires_grad();
    Tensor running_mean = Tensor::zeros({C}), running_var = Tensor::ones({C});
    Outputs out;
    BatchStats stats;
    Tensor y = batch_norm(x, gamma, beta, running_mean, running_var, {}, /*training=*/true, 0.1f,
                          1e-5f, &stats);
    out.emplace_back("y", values(y));
    out.emplace_back("batch mean", doubles(stats.mean));
    out.emplace_back("batch variance", doubles(stats.var));
    out.emplace_back("running mean", values(running_mean));
    out.emplace_back("running variance", values(running_var));
    backward_with_random_grad(y, 14);
    out.emplace_back("dx", grads(x));
    out.emplace_back("dgamma", grads(gamma));
    out.emplace_back("dbeta", grads(beta));
    x.zero_grad();
    Tensor y2 = add(batch_norm(x, gamma, beta, {}, {}, {}, /*training=*/true, 0.1f, 1e-5f), x);
    out.emplace_back("y (batch_norm(x) + x)", values(y2));
    backward_with_random_grad(y2, 15);
    out.emplace_back("dx (accumulated)", grads(x));
    out.emplace_back("dgamma (accumulated)", grads(gamma));
    out.emplace_back("dbeta (accumulated)", grads(beta));
    return out;
}

}  // namespace

TEST_CASE(
    "kernel builds: batch_norm in training, 4-D and 2-D, forward and backward, match the "
    "baseline build",
    "[kernel-builds]") {
    // Every channel has at least 3 values: with 2, xhat is +-1 whatever x is, so the input
    // gradient is 0 but for eps's share, and what any build computes for it is mostly the
    // rounding of terms hundreds to thousands of times its size (measured on [2, 17] and
    // [2, 7, 1, 1]: the builds 2e-7 and 1.5e-8 apart, 5 and 10 times 1e-5 of the result's scale).
    // 4-D: rows of H W values (the row kernels); 1x1 images take the [N, C] kernels.
    for (const Shape& s :
         {Shape{2, 3, 5, 5}, Shape{3, 4, 7, 7}, Shape{2, 5, 14, 14}, Shape{4, 3, 15, 15},
          Shape{3, 2, 1, 17}, Shape{3, 7, 1, 1}, Shape{5, 2, 33, 3}, Shape{16, 8, 14, 14}})
        compare_builds("batch_norm " + shape_name(s), [&] { return run_batch_norm(s); });
    // 2-D [N, C]: the channels are the vector dimension.
    for (const Shape& s : {Shape{7, 1}, Shape{5, 7}, Shape{33, 15}, Shape{3, 17}, Shape{17, 33},
                           Shape{100, 100}, Shape{3, 130}})
        compare_builds("batch_norm " + shape_name(s), [&] { return run_batch_norm(s); });
}

TEST_CASE("kernel builds: standardize, forward and backward, matches the baseline build",
          "[kernel-builds]") {
    // Rows of 1 to 6,272 values (LayerNorm over [32, 14, 14]), and enough rows to be split
    // between threads.
    // (A pair, not a structured binding: clang 14 does not let the lambda capture one.)
    for (const std::pair<Shape, int>& c :
         {std::pair{Shape{3, 1}, 1}, std::pair{Shape{4, 7}, 1}, std::pair{Shape{2, 3, 5, 5}, 3},
          std::pair{Shape{5, 17}, 1}, std::pair{Shape{2, 4, 33}, 1},
          std::pair{Shape{8, 32, 14, 14}, 3}, std::pair{Shape{300, 100}, 1}}) {
        const Shape& s = c.first;
        const int dims = c.second;
        compare_builds("standardize " + shape_name(s) + " dims " + std::to_string(dims), [&] {
            Tensor x = randn(s, 41, 0.5f, 2.f).set_requires_grad();
            const Tensor q = randn(s, 42);
            Outputs out;
            Tensor y = standardize(x, dims, 1e-5f);
            out.emplace_back("y", values(y));
            backward_with_random_grad(y, 43);
            out.emplace_back("dx", grads(x));
            // Added onto another record's gradient of x.
            x.zero_grad();
            Tensor y2 = add(mul(x, q), standardize(x, dims, 1e-5f));
            backward_with_random_grad(y2, 44);
            out.emplace_back("dx (accumulated)", grads(x));
            return out;
        });
    }
}

TEST_CASE("kernel builds: standardize_affine, forward and backward, matches the baseline build",
          "[kernel-builds]") {
    // LayerNorm's weight over the row (R = 1) and GroupNorm's per channel (runs of R values), odd
    // lengths, and enough rows to be split between threads with a short last block of 8 rows.
    struct AffineCase {
        Shape x;
        int dims;
        Shape w;
    };
    for (const AffineCase& c :
         {AffineCase{{3, 5, 7}, 2, {5, 7}}, AffineCase{{10, 33}, 1, {33}},
          AffineCase{{2, 3, 2, 9}, 2, {3, 2, 1}}, AffineCase{{5, 2, 3, 17}, 2, {2, 3, 1}},
          AffineCase{{19, 32, 14, 14}, 3, {32, 14, 14}},
          AffineCase{{9, 4, 8, 196}, 2, {4, 8, 1}}}) {
        compare_builds("standardize_affine " + shape_name(c.x) + " by " + shape_name(c.w), [&] {
            Tensor x = randn(c.x, 61, 0.5f, 2.f).set_requires_grad();
            Tensor w = randn(c.w, 62).set_requires_grad(), b = randn(c.w, 63).set_requires_grad();
            const Tensor q = randn(c.x, 64);
            Outputs out;
            Tensor y = standardize_affine(x, c.dims, 1e-5f, w, b);
            out.emplace_back("y", values(y));
            backward_with_random_grad(y, 65);
            out.emplace_back("dx", grads(x));
            out.emplace_back("dw", grads(w));
            out.emplace_back("db", grads(b));
            // Added onto other records' gradients.
            Tensor y2 = add(mul(x, q), standardize_affine(x, c.dims, 1e-5f, w, b));
            backward_with_random_grad(y2, 66);
            out.emplace_back("dx (accumulated)", grads(x));
            out.emplace_back("dw (accumulated)", grads(w));
            return out;
        });
    }
}

TEST_CASE("kernel builds: multiply_add, forward and backward, matches the baseline build",
          "[kernel-builds]") {
    // LayerNorm's broadcast (w along the last axes: rows of Q values, their rows summed in
    // groups of 8 for dw and db: 3, 10 and 17 rows) and GroupNorm's (w per channel: rows of R
    // values), odd lengths, and one large enough to be split between threads.
    for (const std::pair<Shape, Shape>& c :
         {std::pair{Shape{3, 5, 7}, Shape{5, 7}}, std::pair{Shape{10, 33}, Shape{33}},
          std::pair{Shape{17, 4, 9}, Shape{4, 9}}, std::pair{Shape{2, 6, 5, 3}, Shape{6, 1, 1}},
          std::pair{Shape{3, 7, 17}, Shape{7, 1}},
          std::pair{Shape{16, 32, 14, 14}, Shape{32, 14, 14}}}) {
        const Shape &xs = c.first, &ws = c.second;
        compare_builds("multiply_add " + shape_name(xs) + " by " + shape_name(ws), [&] {
            Tensor x = randn(xs, 51).set_requires_grad();
            Tensor w = randn(ws, 52).set_requires_grad(), b = randn(ws, 53).set_requires_grad();
            const Tensor q = randn(xs, 54);
            Outputs out;
            Tensor y = multiply_add(x, w, b);
            out.emplace_back("y", values(y));
            backward_with_random_grad(y, 55);
            out.emplace_back("dx", grads(x));
            out.emplace_back("dw", grads(w));
            out.emplace_back("db", grads(b));
            // Added onto other records' gradients.
            Tensor y2 = add(mul(x, q), multiply_add(x, w, b));
            backward_with_random_grad(y2, 56);
            out.emplace_back("dx (accumulated)", grads(x));
            out.emplace_back("dw (accumulated)", grads(w));
            return out;
        });
    }
}

TEST_CASE("kernel builds: max_pool2d 2x2, forward and backward, matches the baseline build",
          "[kernel-builds]") {
    for (const Shape& s : {Shape{1, 1, 2, 2}, Shape{2, 3, 5, 5}, Shape{2, 2, 7, 7},
                           Shape{3, 4, 14, 14}, Shape{2, 3, 15, 15}, Shape{1, 2, 5, 34},
                           Shape{2, 1, 33, 17}, Shape{1, 2, 4, 100}, Shape{16, 8, 28, 28}})
        compare_builds("max_pool2d 2x2 " + shape_name(s), [&] {
            Tensor x = randn(s, 21).set_requires_grad();
            const Tensor q = randn({s[0], s[1], s[2] / 2, s[3] / 2}, 24);
            Outputs out;
            Tensor y = max_pool2d(x, {2, 0, 0});
            out.emplace_back("y", values(y));
            backward_with_random_grad(y, 22);
            out.emplace_back("dx", grads(x));
            // x pooled twice: the second backward of the pooling adds onto the first's.
            x.zero_grad();
            Tensor y2 = add(max_pool2d(x, {2, 0, 0}), mul(max_pool2d(x, {2, 2, 0}), q));
            backward_with_random_grad(y2, 23);
            out.emplace_back("dx (accumulated)", grads(x));
            return out;
        });
}

TEST_CASE("kernel builds: relu, leaky_relu and elementwise gradients match the baseline build",
          "[kernel-builds]") {
    // Up to past kernels::min_parallel_elements(), where write_elements splits between threads
    // (with threads spinning, 32 K; sleeping, 256 K).
    for (int64_t n : {1, 7, 15, 17, 33, 100, 1000, 70001, 300001})
        compare_builds("elementwise, length " + std::to_string(n), [&] {
            Tensor x = randn({n}, 31).set_requires_grad();
            Tensor z = randn({n}, 32).set_requires_grad();
            Outputs out;
            Tensor r = relu(x), l = leaky_relu(x, 0.1f);
            out.emplace_back("relu", values(r));
            out.emplace_back("leaky_relu", values(l));
            backward_with_random_grad(r, 33);
            out.emplace_back("relu dx", grads(x));
            x.zero_grad();
            backward_with_random_grad(l, 34);
            out.emplace_back("leaky_relu dx", grads(x));
            // Written, then added: relu and leaky_relu of the same x, and x times z plus x times
            // x (mul's gradient of each input, and x's three contributions added).
            x.zero_grad();
            Tensor m = add(add(relu(x), leaky_relu(x, 0.3f)), add(mul(x, z), mul(x, x)));
            out.emplace_back("relu(x) + leaky_relu(x) + x z + x x", values(m));
            backward_with_random_grad(m, 35);
            out.emplace_back("dx (accumulated)", grads(x));
            out.emplace_back("dz", grads(z));
            return out;
        });
}

TEST_CASE("kernel builds: sum_of_squares and update_sums_of_squares match the baseline build",
          "[kernel-builds]") {
    const int64_t block = kSumOfSquaresBlock;
    // Lengths around the 32-lane loop and the 1024-value blocks; the last one is shared among
    // threads (256 K values or more: src/norms.cpp).
    for (int64_t n :
         {int64_t{1}, int64_t{7}, int64_t{15}, int64_t{17}, int64_t{31}, int64_t{32}, int64_t{33},
          int64_t{100}, block - 1, block, block + 17, 3 * block + 33, (int64_t{1} << 18) + 7})
        compare_builds("sums of squares, length " + std::to_string(n), [&] {
            // Magnitudes from 0.5 to 1.5, so that every term counts (a term left out of a sum of
            // n of them moves it by more than 1e-5 of it up to n = 10^4 at least).
            std::vector<float> old(static_cast<size_t>(n));
            Rng rng(41);
            for (float& v : old) {
                const double sign = rng.uniform() < 0.5 ? -1.0 : 1.0;
                v = static_cast<float>(sign * rng.uniform(0.5, 1.5));
            }
            auto now = old;
            const auto step = randn({n}, 42, 0.f, 0.01f).to_vector();
            for (size_t i = 0; i < now.size(); ++i) now[i] += step[i];
            Outputs out;
            out.emplace_back("sum_of_squares", std::vector<double>{sum_of_squares(old.data(), n)});
            std::vector<float> copy(old.size());
            out.emplace_back("copy_and_sum_of_squares", std::vector<double>{copy_and_sum_of_squares(
                                                            old.data(), copy.data(), n)});
            out.emplace_back("the copy", doubles(copy));
            double a = 0, c = 0;
            update_sums_of_squares(old.data(), now.data(), n, &a, &c);
            out.emplace_back("update: now", std::vector<double>{a});
            out.emplace_back("update: change", std::vector<double>{c});
            double o3 = 0, a3 = 0, c3 = 0;
            update_sums_of_squares(old.data(), now.data(), n, &o3, &a3, &c3);
            out.emplace_back("update (3 sums): old", std::vector<double>{o3});
            out.emplace_back("update (3 sums): now", std::vector<double>{a3});
            out.emplace_back("update (3 sums): change", std::vector<double>{c3});
            return out;
        });
}
