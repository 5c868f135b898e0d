// gradnorms' sweep: the ratio it prints is the first weight layer's gradient norm over the last
// one's at initialisation, on the images it says (--fixed-batch: file order).
#include <catch2/catch.hpp>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/norms.hpp"
#include "normgrad/ops/cross_entropy.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/depth_sweep.hpp"

using namespace normgrad;
using namespace normgrad::train;

namespace {

Dataset tiny_data(int64_t count) {
    Dataset d;
    d.count = count, d.rows = 4, d.cols = 4;
    Rng rng(5);
    for (int64_t i = 0; i < count * 16; ++i) d.images.push_back(uint8_t(rng.below(256)));
    for (int64_t i = 0; i < count; ++i) d.labels.push_back(uint8_t(rng.below(3)));
    return d;
}

// The ratio computed directly: the model from Rng(seed), one batch of images first..first+B-1
// of `order`, one backward pass.
double direct_ratio(const ModelSpec& s, const Dataset& d, const std::vector<int64_t>& order,
                    int64_t batch, uint64_t seed) {
    Rng init(seed);
    auto m = build_model(s, init);
    m->train();
    Batch b = make_batch(d, order, 0, batch, s.input);
    autograd::backward(cross_entropy((*m)(b.images), b.labels));
    std::vector<Tensor> w;
    for (const auto& [name, layer] : m->children())
        if (auto* dense = dynamic_cast<Dense*>(layer.get())) w.push_back(dense->weight);
    return l2_norm(w.front().grad(), w.front().numel()) /
           l2_norm(w.back().grad(), w.back().numel());
}

}  // namespace

TEST_CASE("gradnorms: the ratio is first over last, on the images it says", "[models]") {
    const Dataset d = tiny_data(40);
    ModelSpec s;
    s.hidden = 8;
    s.classes = 3;
    s.image_rows = s.image_cols = 4;
    const std::vector<Norm> norms{Norm::none(), Norm::batch(), Norm{Norm::Kind::Layer, 0}};
    SweepData fixed{16, 1, 3, true};
    const auto points = depth_sweep(s, {2, 3}, norms, d, fixed);
    REQUIRE(points.size() == 6);  // two depths, three normalisations
    std::vector<int64_t> file_order(40);
    for (int64_t i = 0; i < 40; ++i) file_order[size_t(i)] = i;
    for (const DepthPoint& p : points) {
        INFO("depth " << p.depth << " " << to_string(p.norm));
        ModelSpec m = s;
        m.depth = p.depth;
        m.norm = p.norm;
        REQUIRE(p.layers.size() == size_t(p.depth + 1));
        CHECK(p.layers.front() == "fc1");
        CHECK(p.first_over_last() == Approx(direct_ratio(m, d, file_order, 16, 3)).epsilon(1e-9));
    }
    // Without --fixed-batch the images are the first epoch's shuffled ones: other numbers.
    SweepData shuffled = fixed;
    shuffled.fixed_batch = false;
    const auto other = depth_sweep(s, {2}, {Norm::none()}, d, shuffled);
    Rng order_rng = data_order_rng(3);
    ModelSpec m = s;
    CHECK(other.at(0).first_over_last() ==
          Approx(direct_ratio(m, d, epoch_order(40, &order_rng), 16, 3)).epsilon(1e-9));
    CHECK(other.at(0).first_over_last() != Approx(points.at(0).first_over_last()).epsilon(1e-6));
}

TEST_CASE("gradnorms: a model of fixed shape is swept once per normalisation", "[models]") {
    const Dataset d = tiny_data(20);
    ModelSpec s;
    s.kind = "arch";
    s.arch = "conv3x3:4,norm,relu,res(conv3x3:4,norm,relu),gap,dense:3";
    s.classes = 3;
    s.image_rows = s.image_cols = 4;
    const auto points =
        depth_sweep(s, {2, 4, 8}, {Norm::none(), Norm{Norm::Kind::Group, 2}}, d, {8, 2, 0, true});
    REQUIRE(points.size() == 2);
    CHECK(points[0].depth == 0);
    CHECK(points[0].layers == std::vector<std::string>{"conv1", "res1.conv1", "fc1"});
    CHECK(points[1].norm == Norm{Norm::Kind::Group, 2});
    CHECK(std::isfinite(points[1].first_over_last()));
}
