#include "normgrad/train/ioffe_figure1.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "normgrad/stop.hpp"
#include "normgrad/train/evaluate.hpp"

namespace normgrad::train {

std::vector<double> quantiles(std::vector<double> values, const std::vector<double>& qs) {
    std::vector<double> out;
    std::sort(values.begin(), values.end());
    for (const double q : qs) {
        if (values.empty()) {
            out.push_back(NAN);
            continue;
        }
        // Rank q (n - 1): between the values at floor and ceil of it, linearly.
        const double rank = q * double(values.size() - 1);
        const size_t lo = size_t(std::floor(rank)), hi = std::min(lo + 1, values.size() - 1);
        out.push_back(values[lo] + (rank - double(lo)) * (values[hi] - values[lo]));
    }
    return out;
}

UnitProbe probe_unit_input(Module& model, const std::string& layer, int64_t unit,
                           const Dataset& data, InputScaling scaling) {
    const Module* target = nullptr;
    model.visit([&](const std::string& path, const Module& m) {
        if (path == layer) target = &m;
    });
    if (!target) throw std::invalid_argument("probe_unit_input: the model has no layer " + layer);
    UnitProbe p;
    // The hook sees every module's forward; it keeps column `unit` of the target's input.
    HookHandle hook = add_module_hook([&](const Module& m, const Tensor& in, const Tensor&) {
        if (&m != target) return;
        if (in.shape().rank() != 2 || unit >= in.dim(1))
            throw std::invalid_argument("probe_unit_input: " + layer + " has no unit " +
                                        std::to_string(unit));
        const int64_t n = in.dim(0), f = in.dim(1);
        for (int64_t i = 0; i < n; ++i) p.values.push_back(in.data()[i * f + unit]);
    });
    p.accuracy = evaluate(model, data, 128, scaling).accuracy;
    return p;
}

std::string ioffe_spec() {
    return "dense:100,norm,act,dense:100,norm,act,dense:100,norm,act,dense:10";
}

std::vector<IoffeCurve> run_ioffe_figure1(
    const IoffeConfig& c, const Dataset& train_set, const Dataset& test_set,
    const std::function<void(const IoffeCurve&)>& on_measure) {
    std::vector<IoffeCurve> out;
    for (const Norm norm : {Norm::none(), Norm::batch()}) {
        if (stop_requested()) break;
        const auto t0 = std::chrono::steady_clock::now();
        TrainConfig t = c.base;
        t.model.kind = "arch";
        t.model.arch = ioffe_spec();
        t.model.norm = norm;
        t.model.activation = Activation::Sigmoid;
        t.model.init = Init::normal(c.init_std);
        t.batch = 60;
        t.max_steps = c.steps;
        t.epochs = int((c.steps * 60 + train_set.count - 1) / train_set.count) + 1;
        t.grad_stats = false;
        t.progress = false;
        t.log_path.clear();
        t.save_path.clear();
        IoffeCurve curve;
        curve.norm = norm;
        Rng init(t.seed);
        auto model = build_model(t.model, init);
        auto measure = [&](int64_t step) {
            const UnitProbe p =
                probe_unit_input(*model, ioffe_probed_layer(), c.unit, test_set, t.model.input);
            const auto q = quantiles(p.values, {0.15, 0.50, 0.85});
            curve.steps.push_back(step);
            curve.accuracy.push_back(p.accuracy);
            curve.percentiles.push_back({q[0], q[1], q[2]});
            if (on_measure) on_measure(curve);
        };
        measure(0);
        try {
            train(t, *model, train_set, test_set, [&](const StepInfo& s) {
                if (s.step % c.every == 0 && std::isfinite(s.loss)) measure(s.step);
            });
        } catch (const DivergedError& e) {
            curve.diverged_step = e.step;
        }
        curve.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        out.push_back(std::move(curve));
    }
    return out;
}

}  // namespace normgrad::train
