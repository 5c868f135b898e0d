// The pieces of data-parallel training besides the gradients (grad_sync.hpp): which images of a
// global batch a rank takes, the model made the same on every rank, BatchNorm told to use the
// global batch's statistics, the running statistics averaged.
#pragma once

#include <cstdint>
#include <string>

#include "normgrad/communicator.hpp"
#include "normgrad/module.hpp"

namespace normgrad::train {

// BatchNorm's statistics when several ranks train one model (--bn-sync).
enum class BnSync {
    Global,  // SyncBatchNorm: the global batch's statistics (every rank's slice together)
    Local,   // each rank its own slice's, as DistributedDataParallel without SyncBatchNorm
};
std::string to_string(BnSync s);
BnSync parse_bn_sync(const std::string& s);  // "global" or "local"; throws std::invalid_argument

// Rank `rank` of `ranks` takes images [first, first + count) of a global batch of n: contiguous
// slices whose sizes differ by at most one, the larger ones first (n = 128 on 3 ranks: 43, 43,
// 42).
struct Slice {
    int64_t first = 0, count = 0;
};
Slice rank_slice(int64_t n, int rank, int ranks);

// Every parameter and buffer of `model` set to rank 0's values. Collective.
void broadcast_state(Module& model, const Communicator& comm);

// Every BatchNorm's running mean and running variance set to their mean over the ranks (with
// --bn-sync local they differ: each rank's follow its own slices). Collective.
void average_running_stats(Module& model, const Communicator& comm);

// Every BatchNorm of `model` synchronised over `comm` (SyncBatchNorm), or not (null).
void set_batch_norm_sync(Module& model, const Communicator* comm);

}  // namespace normgrad::train
