#include "normgrad/train/study_point.hpp"

#include <chrono>
#include <cmath>

#include "normgrad/train/evaluate.hpp"

namespace normgrad::train {

PointResult train_point(TrainConfig c, const Dataset& train_set, const Dataset& test_set) {
    c.log_path.clear();
    c.save_path.clear();
    c.checkpoint_every = 0;
    c.grad_stats = false;
    const auto t0 = std::chrono::steady_clock::now();
    Rng init(c.seed);
    auto model = build_model(c.model, init);
    PointResult p;
    auto on_step = [&](const StepInfo& s) {
        p.steps = s.step;
        if (std::isfinite(s.loss)) p.last_loss = s.loss;
    };
    try {
        const TrainResult r = train(c, *model, train_set, test_set, on_step);
        p.interrupted = r.interrupted;
        if (!r.epochs.empty()) p.test_accuracy = r.epochs.back().test_accuracy;
    } catch (const DivergedError& e) {
        p.diverged_step = e.step;
        p.test_accuracy = evaluate(*model, test_set, 128, c.model.input).accuracy;
    }
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return p;
}

}  // namespace normgrad::train
