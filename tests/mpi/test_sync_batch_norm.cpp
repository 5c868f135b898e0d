// SyncBatchNorm (ops/batch_norm.hpp) on two ranks against single-process BatchNorm on the
// concatenated batch: slices of different sizes (3 and 5 images, 1 and 7) give the global
// batch's output, statistics, running statistics and gradients.
#include <catch2/catch.hpp>

#include "mpi_helpers.hpp"
#include "normgrad/autograd.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/ops.hpp"

using namespace normgrad;
using normgrad::mpi_testing::max_rel_diff;
using normgrad::mpi_testing::two_ranks;

namespace {

struct Outcome {
    std::vector<float> y, dx, dgamma, dbeta, running_mean, running_var, mean, var;
    int64_t count = 0;
};

std::shared_ptr<BatchNorm> make_bn(int spatial_rank, int64_t C) {
    std::shared_ptr<BatchNorm> bn;
    if (spatial_rank == 0)
        bn = std::make_shared<BatchNorm1d>(C);
    else
        bn = std::make_shared<BatchNorm2d>(C);
    for (int64_t c = 0; c < C; ++c) {  // gamma and beta away from 1 and 0
        bn->gamma.data()[c] = 1.f + 0.25f * float(c);
        bn->beta.data()[c] = -0.5f + 0.1f * float(c);
    }
    return bn;
}

// Rows [first, first + n) of x (along the batch axis).
Tensor rows(const Tensor& x, int64_t first, int64_t n) {
    return slice(x, 0, first, first + n).detach().clone();
}

// Training forward and backward of the loss sum(y * w) (a g = w that differs everywhere).
Outcome run(BatchNorm& bn, const Tensor& x_values, const Tensor& w) {
    Tensor x = x_values.clone();
    x.set_requires_grad();
    bn.train();
    Tensor y = bn(x);
    autograd::backward(sum(mul(y, w)));
    Outcome o;
    o.y = y.to_vector();
    o.dx = x.grad_vector();
    o.dgamma = bn.gamma.grad_vector();
    o.dbeta = bn.beta.grad_vector();
    o.running_mean = bn.running_mean.to_vector();
    o.running_var = bn.running_var.to_vector();
    o.mean = bn.last_batch_stats().mean;
    o.var = bn.last_batch_stats().var;
    o.count = bn.last_batch_stats().count;
    return o;
}

void check_slices(int spatial_rank, int64_t first_rank_images) {
    const Communicator& comm = two_ranks();
    const int64_t N = 8, C = 3;
    const Shape shape = spatial_rank == 0 ? Shape({N, C}) : Shape({N, C, 2, 3});
    Rng rng(11);                                           // the same numbers on every rank
    const Tensor x = Tensor::randn(shape, rng, 3.f, 2.f);  // a mean far from 0
    const Tensor w = Tensor::randn(shape, rng);

    auto whole = make_bn(spatial_rank, C);
    const Outcome ref = run(*whole, x, w);

    const int64_t first = comm.rank() == 0 ? 0 : first_rank_images;
    const int64_t n = comm.rank() == 0 ? first_rank_images : N - first_rank_images;
    auto part = make_bn(spatial_rank, C);
    part->sync = &comm;
    const Outcome mine = run(*part, rows(x, first, n), rows(w, first, n));
    std::vector<float> dgamma = mine.dgamma, dbeta = mine.dbeta;  // this rank's parts, summed
    comm.all_reduce_sum(dgamma);
    comm.all_reduce_sum(dbeta);

    const auto ref_rows = [&](const std::vector<float>& v) {
        const int64_t per = shape.numel() / N;
        return std::vector<float>(v.begin() + first * per, v.begin() + (first + n) * per);
    };
    INFO("rank " << comm.rank() << " with " << n << " of " << N << " images, input "
                 << shape.str());
    CHECK(mine.count == ref.count);
    CHECK(max_rel_diff(mine.mean, ref.mean) < 1e-6);
    CHECK(max_rel_diff(mine.var, ref.var) < 1e-6);
    CHECK(max_rel_diff(mine.running_mean, ref.running_mean) < 1e-6);
    CHECK(max_rel_diff(mine.running_var, ref.running_var) < 1e-6);
    CHECK(max_rel_diff(mine.y, ref_rows(ref.y)) < 1e-5);
    CHECK(max_rel_diff(mine.dx, ref_rows(ref.dx)) < 1e-5);
    CHECK(max_rel_diff(dgamma, ref.dgamma) < 1e-5);
    CHECK(max_rel_diff(dbeta, ref.dbeta) < 1e-5);
}

}  // namespace

TEST_CASE("SyncBatchNorm: slices of 3 and 5 images give the statistics and gradients of the 8",
          "[mpi][syncbn]") {
    check_slices(0, 3);  // BatchNorm1d
    check_slices(2, 3);  // BatchNorm2d
}

TEST_CASE("SyncBatchNorm: one image on a rank is allowed when the global batch has more",
          "[mpi][syncbn]") {
    check_slices(0, 1);  // rank 0 holds 1 image: alone, BatchNorm1d would refuse it
    check_slices(2, 7);
}

TEST_CASE("SyncBatchNorm: evaluation mode uses the rank's running statistics, no collective",
          "[mpi][syncbn]") {
    const Communicator& comm = two_ranks();
    auto bn = make_bn(0, 2);
    bn->sync = &comm;
    bn->running_mean.data()[0] = float(comm.rank());  // differs between the ranks
    bn->eval();
    autograd::NoGradGuard no_grad;
    // Rank 1 alone runs an extra evaluation forward: a collective inside would leave it waiting.
    for (int i = 0; i <= comm.rank(); ++i) {
        const Tensor y = (*bn)(Tensor::zeros({1, 2}));
        CHECK(y.data()[0] ==
              Approx(bn->beta.data()[0] - float(comm.rank()) / std::sqrt(1.f + 1e-5f)));
    }
    comm.barrier();
}
