// The running statistics' lag behind the population statistics (running_lag.hpp).
#include "normgrad/train/running_lag.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/storage.hpp"
#include "normgrad/train/recalibrate.hpp"

namespace normgrad::train {

namespace {

double average(const std::vector<double>& v) {
    double s = 0.0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / double(v.size());
}

}  // namespace

RunningLag measure_running_lag(Module& model, const Dataset& train_set, int64_t steps,
                               int64_t batch, InputScaling scaling, uint64_t seed,
                               double tolerance) {
    if (steps < 1) throw std::invalid_argument("running-statistics lag: at least 1 step");
    std::vector<std::pair<std::string, BatchNorm*>> bns;
    model.visit([&](const std::string& path, Module& m) {
        auto* bn = dynamic_cast<BatchNorm*>(&m);
        if (bn && bn->running_mean.defined()) bns.emplace_back(path, bn);
    });
    if (bns.empty())
        throw std::invalid_argument(
            "running-statistics lag: the model has no BatchNorm with running statistics");

    // Every buffer back as it was, whatever happens (recalibration and the forwards move them).
    BufferSnapshot snapshot(model);

    RunningLag r;
    r.steps = steps;
    r.batch = batch;
    r.tolerance = tolerance;
    try {
        // The population statistics: Algorithm 2 over the whole training set (it checks batch
        // and the data's size, and leaves the model in its training mode).
        recalibrate_batch_norm(model, train_set, batch, scaling);
        std::vector<std::vector<float>> pop_mean, pop_var;
        // Per layer and channel: sums of the batch mean (in population std, about the population
        // mean) and of the unbiased batch variance over the population variance, and of their
        // squares, for the spread of each over batches.
        std::vector<std::vector<double>> sm, smm, sv, svv;
        for (auto& [name, bn] : bns) {
            pop_mean.push_back(bn->running_mean.to_vector());
            pop_var.push_back(bn->running_var.to_vector());
            // Where training starts them.
            std::fill_n(bn->running_mean.data(), bn->num_features, 0.f);
            std::fill_n(bn->running_var.data(), bn->num_features, 1.f);
            if (bn->num_batches_tracked.defined()) bn->num_batches_tracked.data()[0] = 0.f;
            const auto C = size_t(bn->num_features);
            sm.emplace_back(C, 0.0), smm.emplace_back(C, 0.0);
            sv.emplace_back(C, 0.0), svv.emplace_back(C, 0.0);
            LayerLag l;
            l.name = name;
            l.momentum = bn->options.momentum.value_or(0.f);
            r.layers.push_back(std::move(l));
        }
        autograd::NoGradGuard no_grad;
        const Storage::KeepBuffers keep;  // the same pass batch after batch (storage.hpp)
        model.eval();
        for (auto& [name, bn] : bns) bn->train(true);
        Rng order_rng = data_order_rng(seed);
        std::vector<int64_t> order = epoch_order(train_set.count, &order_rng);
        const int64_t per_epoch = train_set.count / batch;
        for (int64_t s = 0; s < steps; ++s) {
            if ((s & 15) == 0) throw_if_stop_requested("measuring the running statistics' lag");
            const int64_t k = s % per_epoch;
            if (k == 0 && s > 0) order = epoch_order(train_set.count, &order_rng);
            const Batch x = make_batch(train_set, order, k * batch, batch, scaling);
            model(x.images);
            for (size_t i = 0; i < bns.size(); ++i) {
                BatchNorm* bn = bns[i].second;
                const float* rm = bn->running_mean.data();
                const float* rv = bn->running_var.data();
                const float eps = bn->options.eps;
                LagStep p;
                p.step = s + 1;
                const auto C = size_t(bn->num_features);
                for (size_t c = 0; c < C; ++c) {
                    const double pm = pop_mean[i][c], pv = pop_var[i][c];
                    p.mean_gap += std::abs(double(rm[c]) - pm) / std::sqrt(pv + eps) / double(C);
                    p.var_gap += std::abs(double(rv[c]) / pv - 1.0) / double(C);
                }
                const BatchStats& b = bn->last_batch_stats();
                const double unbias = b.count > 1 ? double(b.count) / double(b.count - 1) : 1.0;
                for (size_t c = 0; c < C; ++c) {
                    const double pv = pop_var[i][c];
                    const double zm = (double(b.mean[c]) - pop_mean[i][c]) / std::sqrt(pv + eps);
                    const double zv = unbias * double(b.var[c]) / pv;
                    sm[i][c] += zm, smm[i][c] += zm * zm;
                    sv[i][c] += zv, svv[i][c] += zv * zv;
                }
                LayerLag& l = r.layers[i];
                l.values_per_batch = b.count;
                l.steps.push_back(p);
            }
        }
        const double n = double(steps);
        for (size_t i = 0; i < bns.size(); ++i) {
            LayerLag& l = r.layers[i];
            if (l.momentum <= 0.f || steps < 2) continue;
            const double a = l.momentum;
            const double k = std::sqrt(2.0 / M_PI) * std::sqrt(a / (2.0 - a));
            const size_t C = sm[i].size();
            for (size_t c = 0; c < C; ++c) {
                auto spread = [n](double sum, double sq) {
                    return std::sqrt(std::max(0.0, (sq - sum * sum / n) / (n - 1)));
                };
                l.mean_floor_predicted += k * spread(sm[i][c], smm[i][c]) / double(C);
                l.var_floor_predicted += k * spread(sv[i][c], svv[i][c]) / double(C);
            }
        }
    } catch (...) {
        snapshot.restore();
        throw;
    }
    snapshot.restore();

    for (LayerLag& l : r.layers) {
        std::vector<double> mg, vg;
        for (size_t i = 0; i < l.steps.size(); ++i) {
            const LagStep& p = l.steps[i];
            const bool within = p.mean_gap <= tolerance && p.var_gap <= tolerance;
            if (within && !l.first_within) l.first_within = p.step;
            if (within && !l.stays_within) l.stays_within = p.step;
            if (!within) l.stays_within = 0;
            if (2 * i >= l.steps.size()) mg.push_back(p.mean_gap), vg.push_back(p.var_gap);
        }
        l.mean_gap_floor = average(mg);
        l.var_gap_floor = average(vg);
    }
    return r;
}

}  // namespace normgrad::train
