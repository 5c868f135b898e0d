#include "normgrad/train/data_parallel.hpp"

#include <fmt/format.h>

#include <span>
#include <stdexcept>

#include "normgrad/layers/batch_norm.hpp"

namespace normgrad::train {

std::string to_string(BnSync s) {
    return s == BnSync::Global ? "global" : "local";
}

BnSync parse_bn_sync(const std::string& s) {
    if (s == "global") return BnSync::Global;
    if (s == "local") return BnSync::Local;
    throw std::invalid_argument(
        fmt::format("unknown --bn-sync '{}' (expected global or local)", s));
}

Slice rank_slice(int64_t n, int rank, int ranks) {
    const int64_t base = n / ranks, extra = n % ranks;
    return {rank * base + std::min<int64_t>(rank, extra), base + (rank < extra ? 1 : 0)};
}

void broadcast_state(Module& model, const Communicator& comm) {
    for (const NamedTensor& t : model.state())
        comm.broadcast(std::span<float>(t.tensor.data(), size_t(t.tensor.numel())), 0);
}

void average_running_stats(Module& model, const Communicator& comm) {
    if (comm.size() == 1) return;
    const auto ranks = static_cast<float>(comm.size());
    model.visit([&](const std::string&, Module& m) {
        auto* bn = dynamic_cast<BatchNorm*>(&m);
        if (!bn || !bn->running_mean.defined()) return;
        for (const Tensor& t : {bn->running_mean, bn->running_var}) {
            const std::span<float> v(t.data(), size_t(t.numel()));
            comm.all_reduce_sum(v);
            for (float& x : v) x /= ranks;
        }
    });
}

void set_batch_norm_sync(Module& model, const Communicator* comm) {
    model.visit([&](const std::string&, Module& m) {
        if (auto* bn = dynamic_cast<BatchNorm*>(&m)) bn->sync = comm;
    });
}

}  // namespace normgrad::train
