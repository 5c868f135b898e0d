// Data-parallel gradients: after each backward, every rank holds the mean over the ranks of the
// parameters' gradients, as PyTorch's DistributedDataParallel does.
//
// The parameters are cut into buckets of about `bucket_bytes`, in the reverse of their order in
// the model (the order backward reaches them). GradSync watches the engine through its hooks
// (hooks.hpp): a forward hook counts, per parameter, the operations that read it; a backward hook
// counts them down as their backward functions run, and once every parameter of a bucket has its
// whole gradient the bucket's sum over the ranks is started (Communicator::start_all_reduce_sum),
// while backward goes on with the layers below. Buckets start in bucket order on every rank
// (a collective's order must be the same everywhere); finish() starts those that backward did
// not complete (a parameter read through a view, or that received no gradient), waits for all
// and writes gradient = sum / ranks. A parameter without a gradient on every rank keeps none.
// How much the sums overlap backward is up to the MPI library: Open MPI advances a started
// collective inside its other MPI calls, so much of the work may wait for finish().
#pragma once

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "normgrad/communicator.hpp"
#include "normgrad/hooks.hpp"
#include "normgrad/named_tensor.hpp"

namespace normgrad::train {

class GradSync {
  public:
    GradSync(std::vector<Parameter> params, std::shared_ptr<const Communicator> comm,
             size_t bucket_bytes = size_t(1) << 20);
    GradSync(const GradSync&) = delete;
    GradSync& operator=(const GradSync&) = delete;

    // Before a step's forward pass: forgets the previous step.
    void begin_step();
    // After backward: every parameter's gradient is the mean over the ranks. Collective.
    void finish();

    size_t buckets() const { return buckets_.size(); }
    // How many buckets the last backward started before finish() (for tests and curiosity).
    size_t started_during_backward() const { return started_early_; }

  private:
    struct Bucket {
        std::vector<size_t> params;  // indices into params_
        std::vector<float> buffer;   // the gradients, then one has-gradient flag per parameter
        size_t waiting = 0;          // parameters whose gradient is not complete yet
        std::unique_ptr<PendingSum> sum;
    };
    void ready(size_t param);
    void start_ready_buckets();
    void start(Bucket& b);

    std::vector<Parameter> params_;
    std::shared_ptr<const Communicator> comm_;
    std::vector<Bucket> buckets_;
    std::vector<size_t> bucket_of_;  // per parameter
    std::vector<size_t> uses_;       // per parameter: operations of this step not yet run back
    std::vector<bool> done_;         // per parameter: its gradient is complete
    std::unordered_map<const void*, size_t> index_;  // TensorImpl -> parameter
    size_t next_ = 0;                                // the next bucket to start
    size_t started_early_ = 0;
    bool in_backward_ = false;
    HookHandle forward_hook_, backward_hook_;
};

}  // namespace normgrad::train
