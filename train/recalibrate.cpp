// Algorithm 2's population statistics for every BatchNorm (recalibrate.hpp): one pass over the
// data with the BatchNorms in training mode, each batch's statistics (BatchNorm::
// last_batch_stats, what the layer normalised with) summed in double.
#include "normgrad/train/recalibrate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/storage.hpp"

namespace normgrad::train {

namespace {

struct Tracked {
    std::string name;
    BatchNorm* bn;
    std::vector<float> old_mean, old_var;
    float old_tracked = 0.f;
    std::vector<double> sum_mean, sum_var;
    int64_t m = 0;
};

// The BatchNorm layers that keep running statistics.
bool has_running_statistics(const Module& m) {
    const auto* bn = dynamic_cast<const BatchNorm*>(&m);
    return bn && bn->running_mean.defined();
}

std::vector<Tracked> find_batch_norms(Module& model) {
    std::vector<Tracked> out;
    model.visit([&](const std::string& path, Module& m) {
        if (!has_running_statistics(m)) return;
        auto* bn = static_cast<BatchNorm*>(&m);
        Tracked t;
        t.name = path;
        t.bn = bn;
        t.old_mean = bn->running_mean.to_vector();
        t.old_var = bn->running_var.to_vector();
        if (bn->num_batches_tracked.defined()) t.old_tracked = bn->num_batches_tracked.item();
        t.sum_mean.assign(size_t(bn->num_features), 0.0);
        t.sum_var.assign(size_t(bn->num_features), 0.0);
        out.push_back(std::move(t));
    });
    return out;
}

}  // namespace

std::vector<std::string> recalibrated_layers(const Module& model) {
    std::vector<std::string> names;
    model.visit([&](const std::string& path, const Module& m) {
        if (has_running_statistics(m)) names.push_back(path);
    });
    return names;
}

Recalibration recalibrate_batch_norm(Module& model, const Dataset& data, int64_t batch,
                                     InputScaling scaling) {
    if (batch < 2)
        throw std::invalid_argument(fmt::format(
            "recalibrate: batches of {} image: a batch variance needs at least 2", batch));
    std::vector<Tracked> layers = find_batch_norms(model);
    if (layers.empty())
        throw std::invalid_argument(
            "recalibrate: the model has no BatchNorm with running statistics to recalibrate");
    if (data.count < batch)
        throw std::invalid_argument(fmt::format(
            "recalibrate: {} images make no batch of {} (Algorithm 2 averages over batches of "
            "one size)",
            data.count, batch));

    Recalibration r;
    r.batches = data.count / batch;
    r.images = r.batches * batch;
    r.left_out = data.count - r.images;
    const bool was_training = model.is_training();
    // The training-mode forwards also move the running averages and num_batches_tracked: put
    // them back if the pass does not finish (a stop request, out of memory).
    auto restore = [&] {
        model.train(was_training);
        for (Tracked& t : layers) {
            t.bn->running_mean.copy_from(Tensor::from({t.bn->num_features}, t.old_mean));
            t.bn->running_var.copy_from(Tensor::from({t.bn->num_features}, t.old_var));
            if (t.bn->num_batches_tracked.defined())
                t.bn->num_batches_tracked.data()[0] = t.old_tracked;
        }
    };
    try {
        autograd::NoGradGuard no_grad;
        const Storage::KeepBuffers keep;  // the same pass batch after batch (storage.hpp)
        model.eval();
        for (Tracked& t : layers) t.bn->train(true);
        const auto order = epoch_order(data.count, nullptr);
        for (int64_t b = 0; b < r.batches; ++b) {
            if ((b & 15) == 0) throw_if_stop_requested("recalibrating: nothing was changed");
            const Batch x = make_batch(data, order, b * batch, batch, scaling);
            model(x.images);
            for (Tracked& t : layers) {
                const BatchStats& s = t.bn->last_batch_stats();
                for (size_t c = 0; c < t.sum_mean.size(); ++c) {
                    t.sum_mean[c] += s.mean[c];
                    t.sum_var[c] += s.var[c];
                }
                t.m = s.count;
            }
        }
    } catch (...) {
        restore();
        throw;
    }
    model.train(was_training);

    for (Tracked& t : layers) {
        const auto B = double(r.batches);
        const double unbias = double(t.m) / double(t.m - 1);
        const float eps = t.bn->options.eps;
        float* rm = t.bn->running_mean.data();
        float* rv = t.bn->running_var.data();
        StatisticsShift s;
        s.layer = t.name;
        s.channels = t.bn->num_features;
        s.values_per_batch = t.m;
        for (size_t c = 0; c < t.sum_mean.size(); ++c) {
            const double mean = t.sum_mean[c] / B;
            const double var = unbias * t.sum_var[c] / B;
            rm[c] = static_cast<float>(mean);
            rv[c] = static_cast<float>(var);
            const double shift = std::abs(mean - double(t.old_mean[c])) / std::sqrt(var + eps);
            const double change =
                t.old_var[c] > 0.f ? std::abs(var / double(t.old_var[c]) - 1.0) : INFINITY;
            s.mean_shift_max = std::max(s.mean_shift_max, shift);
            s.mean_shift_avg += shift / double(s.channels);
            s.var_change_max = std::max(s.var_change_max, change);
            s.var_change_avg += change / double(s.channels);
        }
        // Training-mode forwards counted themselves; recalibration is no training.
        if (t.bn->num_batches_tracked.defined())
            t.bn->num_batches_tracked.data()[0] = t.old_tracked;
        r.layers.push_back(s);
    }
    return r;
}

}  // namespace normgrad::train
