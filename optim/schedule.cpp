// Learning-rate schedules: pure functions from the step number to the learning rate.
#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "normgrad/optim.hpp"

namespace normgrad {

void LrSchedule::validate() const {
    auto fail = [](const std::string& what) { throw std::invalid_argument("LrSchedule: " + what); };
    if (!(base_lr >= 0.f)) fail(fmt::format("base_lr must be >= 0 (got {})", base_lr));
    if (warmup_steps < 0) fail(fmt::format("warmup_steps must be >= 0 (got {})", warmup_steps));
    if (kind == Kind::Step) {
        if (step_size <= 0) fail(fmt::format("Step needs step_size > 0 (got {})", step_size));
        if (!(gamma >= 0.f)) fail(fmt::format("gamma must be >= 0 (got {})", gamma));
    }
    if (kind == Kind::Cosine) {
        if (total_steps <= 0)
            fail(fmt::format("Cosine needs total_steps > 0 (got {})", total_steps));
        if (!(min_lr >= 0.f)) fail(fmt::format("min_lr must be >= 0 (got {})", min_lr));
    }
}

float LrSchedule::lr_at(int64_t step) const {
    validate();
    if (step < 0) throw std::invalid_argument(fmt::format("LrSchedule: step {} < 0", step));
    const double base = base_lr;

    // Linear warm-up: base_lr / warmup_steps, 2 * base_lr / warmup_steps, ..., base_lr.
    if (step < warmup_steps)
        return static_cast<float>(base * static_cast<double>(step + 1) /
                                  static_cast<double>(warmup_steps));
    const int64_t s = step - warmup_steps;  // steps since the warm-up ended

    switch (kind) {
        case Kind::Constant:
            return base_lr;
        case Kind::Step:
            // lr = base_lr * gamma^floor(s / step_size)
            return static_cast<float>(
                base * std::pow(static_cast<double>(gamma), static_cast<double>(s / step_size)));
        case Kind::Cosine: {
            // lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * s / total_steps)) / 2
            if (s >= total_steps) return min_lr;
            const double lo = min_lr;
            const double angle =
                std::numbers::pi * static_cast<double>(s) / static_cast<double>(total_steps);
            return static_cast<float>(lo + (base - lo) * (1.0 + std::cos(angle)) / 2.0);
        }
    }
    return base_lr;  // unreachable
}

std::string LrSchedule::describe() const {
    std::string warmup = warmup_steps > 0 ? fmt::format(", warmup_steps={}", warmup_steps) : "";
    switch (kind) {
        case Kind::Constant:
            return fmt::format("constant(base_lr={}{})", base_lr, warmup);
        case Kind::Step:
            return fmt::format("step(base_lr={}, step_size={}, gamma={}{})", base_lr, step_size,
                               gamma, warmup);
        case Kind::Cosine:
            return fmt::format("cosine(base_lr={}, min_lr={}, total_steps={}{})", base_lr, min_lr,
                               total_steps, warmup);
    }
    return "unknown";
}

}  // namespace normgrad
