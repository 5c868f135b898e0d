#include "normgrad/train/evaluate.hpp"

#include <algorithm>
#include <cmath>

#include "normgrad/autograd.hpp"
#include "normgrad/storage.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/data_parallel.hpp"

namespace normgrad::train {

Evaluation evaluate(Module& model, const Dataset& data, int64_t batch, InputScaling scaling,
                    const Communicator* comm) {
    autograd::NoGradGuard no_grad;
    const Storage::KeepBuffers keep;  // the same pass batch after batch (storage.hpp)
    const bool was_training = model.is_training();
    model.eval();
    const auto order = epoch_order(data.count, nullptr);
    int64_t correct = 0;
    double loss_sum = 0.0;
    const Slice mine =
        comm ? rank_slice(data.count, comm->rank(), comm->size()) : Slice{0, data.count};
    const int64_t end = mine.first + mine.count;
    for (int64_t first = mine.first; first < end; first += batch) {
        const int64_t n = std::min(batch, end - first);
        Batch b = make_batch(data, order, first, n, scaling);
        Tensor logits = model(b.images);
        const int64_t K = logits.dim(1);
        const float* z = logits.data();
        for (int64_t i = 0; i < n; ++i) {
            const float* row = z + i * K;
            const int64_t pred = std::max_element(row, row + K) - row;
            const int32_t label = b.labels[size_t(i)];
            correct += pred == label;
            // Cross-entropy: log(sum_k exp(z_k)) - z_label, with the maximum taken out first.
            double sum = 0.0;
            for (int64_t k = 0; k < K; ++k) sum += std::exp(double(row[k]) - double(row[pred]));
            loss_sum += double(row[pred]) + std::log(sum) - double(row[label]);
        }
    }
    model.train(was_training);
    if (comm) {  // the sums over every rank's share
        double sums[2] = {double(correct), loss_sum};
        comm->all_reduce_sum(sums);
        correct = static_cast<int64_t>(sums[0]);
        loss_sum = sums[1];
    }
    if (data.count == 0) return {};
    return {double(correct) / double(data.count), loss_sum / double(data.count)};
}

}  // namespace normgrad::train
