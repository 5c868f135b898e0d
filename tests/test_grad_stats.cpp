// train::GradStats against the same quantities computed directly, and the promise that watching a
// run does not change it: with the statistics on, the optimizers update the weights to the same
// bits.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <memory>

#include "normgrad/autograd.hpp"
#include "normgrad/norms.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/train/grad_stats.hpp"
#include "normgrad/train/models.hpp"

using namespace normgrad;

namespace {

double norm_of(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += double(x) * x;
    return std::sqrt(s);
}

struct Run {
    std::shared_ptr<Sequential> model;
    std::unique_ptr<Optimizer> opt;
    Tensor x;
    std::vector<int32_t> labels;
};

// A small mlp with BatchNorm on 4x4 "images" of 3 classes, batch 6.
Run make_run(bool adam) {
    Run r;
    train::ModelSpec spec;
    spec.norm = train::Norm::batch();
    spec.hidden = 8;
    spec.image_rows = spec.image_cols = 4;
    spec.classes = 3;
    Rng rng(11);
    r.model = train::build_model(spec, rng);
    r.model->train();
    if (adam) {
        AdamOptions o;
        o.lr = 0.01f;
        o.weight_decay = 0.05f;
        o.decoupled_weight_decay = true;
        r.opt = std::make_unique<Adam>(r.model->parameters(), o);
    } else {
        SgdOptions o;
        o.lr = 0.1f;
        o.momentum = 0.9f;
        o.weight_decay = 0.01f;
        o.nesterov = true;
        r.opt = std::make_unique<Sgd>(r.model->parameters(), o);
    }
    r.x = Tensor::randn({6, 1, 4, 4}, rng);
    r.labels = {0, 1, 2, 2, 1, 0};
    return r;
}

Tensor forward_backward(Run& r) {
    Tensor loss = cross_entropy((*r.model)(r.x), r.labels);
    r.opt->zero_grad();
    autograd::backward(loss);
    return loss;
}

}  // namespace

TEST_CASE("grad stats: norms and update ratios equal the ones computed directly", "[grad_stats]") {
    // With the optimizer's update hook, and from a copy of the weights without it.
    for (const auto& [adam, hook] : {std::pair{false, true}, std::pair{true, true},
                                     std::pair{false, false}, std::pair{true, false}}) {
        INFO((adam ? "AdamW" : "SGD") << (hook ? ", update hook" : ", copy of the weights"));
        Run r = make_run(adam);
        train::GradStats stats(*r.model, hook ? r.opt.get() : nullptr);
        for (int step = 1; step <= 3; ++step) {
            INFO("step " << step);
            stats.begin_step();
            forward_backward(r);
            stats.after_backward();

            // Before the update: gradients and weights as the test sees them.
            std::map<std::string, std::vector<float>> before, grads;
            for (const auto& p : r.model->parameters()) {
                before[p.name] = p.tensor.to_vector();
                grads[p.name] =
                    std::vector<float>(p.tensor.grad(), p.tensor.grad() + p.tensor.numel());
            }
            stats.before_update();
            r.opt->step();
            stats.after_update();

            const train::StepStats& s = stats.current();
            double global = 0;
            for (const auto& [name, g] : grads) global += norm_of(g) * norm_of(g);
            CHECK(s.global_grad_norm == Approx(std::sqrt(global)).epsilon(1e-6));
            CHECK(s.global_grad_norm ==
                  Approx(global_grad_norm(r.model->parameters())).epsilon(1e-12));

            int checked = 0;
            for (const auto& layer : s.layers)
                for (const auto& ps : layer.params) {
                    const std::string name = layer.layer + "." + ps.name;
                    INFO(name);
                    REQUIRE(grads.count(name) == 1);
                    Tensor now;
                    for (const auto& p : r.model->parameters())
                        if (p.name == name) now = p.tensor;
                    std::vector<float> update = now.to_vector();
                    for (size_t i = 0; i < update.size(); ++i) update[i] -= before[name][i];
                    CHECK(ps.grad_norm == Approx(norm_of(grads[name])).epsilon(1e-6));
                    CHECK(ps.weight_norm == Approx(norm_of(now.to_vector())).epsilon(1e-6));
                    REQUIRE(norm_of(update) > 0);
                    if (norm_of(before[name]) == 0)  // beta at its start: no ratio
                        CHECK(std::isnan(ps.update_ratio));
                    else
                        CHECK(ps.update_ratio ==
                              Approx(norm_of(update) / norm_of(before[name])).epsilon(1e-5));
                    ++checked;
                }
            CHECK(checked == int(r.model->parameters().size()));
        }
    }
}

TEST_CASE("grad stats: output gradient norms follow the chain rule at the last layers",
          "[grad_stats]") {
    Run r = make_run(false);
    train::GradStats stats(*r.model);
    stats.begin_step();
    Tensor logits;
    {
        // The logits, recomputed without the tape from the same weights.
        autograd::NoGradGuard no_grad;
        logits = (*r.model)(r.x);
    }
    // (The no-grad pass above ran BatchNorm in training mode too: its running statistics moved,
    // which the loss below does not read.)
    forward_backward(r);
    stats.after_backward();
    const train::StepStats& s = stats.current();
    auto layer = [&](const std::string& name) -> const train::LayerStats& {
        for (const auto& l : s.layers)
            if (l.layer == name) return l;
        FAIL("no layer " << name);
        return s.layers.front();
    };
    // dL/dlogits = (softmax(logits) - onehot(label)) / N for the mean cross-entropy.
    const int64_t N = 6, K = 3;
    std::vector<float> z = logits.to_vector(), dz(size_t(N * K));
    for (int64_t i = 0; i < N; ++i) {
        double m = -1e30, sum = 0;
        for (int64_t k = 0; k < K; ++k) m = std::max(m, double(z[size_t(i * K + k)]));
        for (int64_t k = 0; k < K; ++k) sum += std::exp(z[size_t(i * K + k)] - m);
        for (int64_t k = 0; k < K; ++k)
            dz[size_t(i * K + k)] = float((std::exp(z[size_t(i * K + k)] - m) / sum -
                                           (k == r.labels[size_t(i)] ? 1.0 : 0.0)) /
                                          double(N));
    }
    CHECK(layer("fc3").output_grad_norm == Approx(norm_of(dz)).epsilon(1e-5));
    // fc3: y = a W^T + b, so dL/da = dz W, the gradient arriving at act2's output.
    std::vector<float> w;
    for (const auto& p : r.model->parameters())
        if (p.name == "fc3.weight") w = p.tensor.to_vector();
    const int64_t H = 8;
    std::vector<float> da(size_t(N * H), 0.f);
    for (int64_t i = 0; i < N; ++i)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t k = 0; k < K; ++k)
                da[size_t(i * H + h)] += dz[size_t(i * K + k)] * w[size_t(k * H + h)];
    CHECK(layer("act2").output_grad_norm == Approx(norm_of(da)).epsilon(1e-5));
    // BatchNorm layers report their batch statistics.
    CHECK(layer("bn1").is_batchnorm);
    CHECK(layer("bn1").batch_var_min > 0);
    CHECK(layer("bn1").batch_var_min <= layer("bn1").batch_var_max);
    // Every leaf layer got its output gradient norm (the flatten layer's input is the data,
    // which needs no gradient: no value there).
    for (const auto& l : s.layers)
        if (l.layer != "flatten") CHECK(std::isfinite(l.output_grad_norm));
}

TEST_CASE("optimizer update hooks see every block before and after, and change no bits",
          "[grad_stats]") {
    // 10,000 values: full blocks of Optimizer::kUpdateBlock and a partial one.
    for (bool adam : {false, true}) {
        INFO((adam ? "Adam" : "SGD"));
        Rng rng(3);
        auto make = [&](Tensor& w) -> std::unique_ptr<Optimizer> {
            if (adam)
                return std::make_unique<Adam>(std::vector<Parameter>{{"w", w}}, AdamOptions{});
            SgdOptions o;
            o.lr = 0.1f;
            o.momentum = 0.9f;
            return std::make_unique<Sgd>(std::vector<Parameter>{{"w", w}}, o);
        };
        Tensor a = Tensor::randn({10000}, rng), g = Tensor::randn({10000}, rng);
        Tensor b = a.clone();
        a.set_requires_grad(true);
        b.set_requires_grad(true);
        std::copy(g.data(), g.data() + 10000, a.mutable_grad());
        std::copy(g.data(), g.data() + 10000, b.mutable_grad());
        auto watched = make(a), plain = make(b);
        std::vector<float> old = a.to_vector(), seen_before(10000), seen_after(10000);
        std::vector<int64_t> blocks;
        const HookHandle hook = watched->add_update_hook(
            [&](size_t k, int64_t first, const float* before, const float* after, int64_t n) {
                CHECK(k == 0);
                blocks.push_back(n);
                std::copy(before, before + n, seen_before.begin() + first);
                std::copy(after, after + n, seen_after.begin() + first);
            });
        watched->step();
        plain->step();
        std::vector<int64_t> expected(size_t(10000 / Optimizer::kUpdateBlock),
                                      Optimizer::kUpdateBlock);
        if (10000 % Optimizer::kUpdateBlock) expected.push_back(10000 % Optimizer::kUpdateBlock);
        REQUIRE(expected.size() >= 3);  // a partial block after two full ones at least
        CHECK(blocks == expected);
        CHECK(seen_before == old);
        CHECK(seen_after == a.to_vector());
        CHECK(a.to_vector() == b.to_vector());  // the same bits as in one pass
    }
}

TEST_CASE("grad stats: watching a run leaves its weights bit for bit the same", "[grad_stats]") {
    for (bool adam : {false, true}) {
        INFO((adam ? "AdamW" : "SGD"));
        Run watched = make_run(adam), plain = make_run(adam);
        train::GradStats stats(*watched.model, watched.opt.get());
        for (int step = 0; step < 4; ++step) {
            stats.begin_step();
            forward_backward(watched);
            stats.after_backward();
            stats.before_update();
            watched.opt->step();
            stats.after_update();
            forward_backward(plain);
            plain.opt->step();
        }
        const auto a = watched.model->parameters(), b = plain.model->parameters();
        REQUIRE(a.size() == b.size());
        for (size_t i = 0; i < a.size(); ++i) {
            INFO(a[i].name);
            CHECK(a[i].tensor.to_vector() == b[i].tensor.to_vector());
        }
    }
}

TEST_CASE("sum_of_squares: blocks, threads and sizes give the exact sum's value", "[grad_stats]") {
    CHECK(sum_of_squares(nullptr, 0) == 0.0);
    Rng rng(3);
    for (int64_t n : {1, 7, 4096, 4097, 300000}) {
        INFO("n " << n);
        Tensor v = Tensor::randn({n}, rng);
        double exact = 0;
        for (float x : v.to_vector()) exact += double(x) * x;
        set_num_threads(1);
        const double one = sum_of_squares(v.data(), n);
        set_num_threads(2);
        const double two = sum_of_squares(v.data(), n);
        set_num_threads(1);
        CHECK(one == two);  // the same bits whatever the thread count
        CHECK(one == Approx(exact).epsilon(1e-6));
        CHECK(l2_norm(v.data(), n) == Approx(std::sqrt(exact)).epsilon(1e-6));
    }
}

TEST_CASE("grad stats: every layer's output gradient norm in a CNN with BatchNorm",
          "[grad_stats]") {
    // Two copies of the same model on the same batch: one watched by GradStats, the other run
    // layer by layer with every output's gradient kept, to measure directly.
    train::ModelSpec spec;
    spec.kind = "cnn";
    spec.norm = train::Norm::batch();
    spec.image_rows = spec.image_cols = 12;
    Rng a(2), b(2), data(4);
    auto watched = train::build_model(spec, a), direct = train::build_model(spec, b);
    watched->train();
    direct->train();
    const Tensor x = Tensor::randn({6, 1, 12, 12}, data);
    const std::vector<int32_t> labels = {0, 1, 2, 3, 4, 5};
    train::GradStats stats(*watched);
    stats.begin_step();
    autograd::backward(cross_entropy((*watched)(x), labels));
    stats.after_backward();

    std::map<std::string, Tensor> outputs;
    Tensor h = x;
    for (const auto& [name, layer] : direct->children()) {
        h = (*layer)(h);
        h.retain_grad();
        outputs[name] = h;
    }
    autograd::backward(cross_entropy(h, labels));
    int checked = 0;
    for (const auto& l : stats.current().layers) {
        INFO(l.layer);
        REQUIRE(outputs.count(l.layer));
        CHECK(l.output_grad_norm == Approx(norm_of(outputs[l.layer].grad_vector())).epsilon(1e-6));
        ++checked;
    }
    CHECK(checked == 13);  // conv1 bn1 act1 pool1 conv2 bn2 act2 pool2 flatten fc1 bn3 act3 fc2
}
