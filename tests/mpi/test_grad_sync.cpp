// GradSync (train/grad_sync.hpp) on two ranks: a model without BatchNorm trained on slices of
// 3 and 5 images of a batch of 8 gets, on every rank, the gradients one process computes on
// the 8; the buckets are started during backward.
#include <catch2/catch.hpp>

#include "mpi_helpers.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/layers.hpp"
#include "normgrad/ops.hpp"
#include "normgrad/train/grad_sync.hpp"

using namespace normgrad;
using normgrad::mpi_testing::max_rel_diff;
using normgrad::mpi_testing::two_ranks;

namespace {

std::shared_ptr<Sequential> model() {
    Rng rng(5);
    auto m = std::make_shared<Sequential>();
    m->emplace<Dense>("fc1", 4, 6, rng);
    m->emplace<ReLU>("act1");
    m->emplace<Dense>("fc2", 6, 3, rng);
    return m;
}

std::vector<std::vector<float>> grads(const Module& m) {
    std::vector<std::vector<float>> out;
    for (const Parameter& p : m.parameters()) out.push_back(p.tensor.grad_vector());
    return out;
}

}  // namespace

TEST_CASE("GradSync: the mean of the ranks' gradients is the global batch's, uneven slices too",
          "[mpi][gradsync]") {
    const Communicator& comm = two_ranks();
    const int64_t N = 8;
    Rng rng(3);
    const Tensor x = Tensor::randn({N, 4}, rng);
    const std::vector<int32_t> labels{0, 1, 2, 2, 1, 0, 1, 2};

    auto whole = model();  // one process, the 8 images
    autograd::backward(cross_entropy((*whole)(x), labels));
    const auto expected = grads(*whole);

    auto part = model();
    // One bucket per parameter (16 bytes), so that backward starts some before it ends.
    train::GradSync sync(part->parameters(), world(), 16);
    CHECK(sync.buckets() == 4);
    const int64_t first = comm.rank() == 0 ? 0 : 3, n = comm.rank() == 0 ? 3 : 5;
    for (int step = 0; step < 2; ++step) {  // twice: begin_step forgets the first
        part->zero_grad();
        sync.begin_step();
        const Tensor mine = slice(x, 0, first, first + n).detach().clone();
        const std::vector<int32_t> my_labels(labels.begin() + first, labels.begin() + first + n);
        // The trainer's scaling: n_r * ranks / N times the slice's mean loss.
        Tensor loss = scale(cross_entropy((*part)(mine), my_labels),
                            float(n) * float(comm.size()) / float(N));
        autograd::backward(loss);
        sync.finish();
        const auto got = grads(*part);
        INFO("rank " << comm.rank() << ", step " << step);
        REQUIRE(got.size() == expected.size());
        for (size_t k = 0; k < got.size(); ++k) CHECK(max_rel_diff(got[k], expected[k]) < 1e-5);
        // fc2's bias and weight complete before fc1's gradients are formed.
        CHECK(sync.started_during_backward() >= 2);
    }
}

TEST_CASE("GradSync: a parameter without a gradient on every rank keeps none", "[mpi][gradsync]") {
    two_ranks();
    auto m = model();
    train::GradSync sync(m->parameters(), world());
    sync.begin_step();
    sync.finish();  // no backward at all
    for (const Parameter& p : m->parameters()) CHECK_FALSE(p.tensor.has_grad());
}
