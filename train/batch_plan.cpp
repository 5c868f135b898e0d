#include "normgrad/train/batch_plan.hpp"

#include <fmt/format.h>

#include <exception>
#include <vector>

#include "normgrad/autograd.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

namespace {

// Puts the model's buffers and mode back as they were, however the probe ends.
class Restore {
  public:
    explicit Restore(Module& m) : model_(m), training_(m.is_training()) {
        for (const auto& b : m.buffers()) saved_.push_back({b.tensor, b.tensor.clone()});
    }
    ~Restore() {
        for (auto& [live, copy] : saved_) live.copy_from(copy);
        model_.train(training_);
    }
    Restore(const Restore&) = delete;
    Restore& operator=(const Restore&) = delete;

  private:
    Module& model_;
    bool training_;
    std::vector<std::pair<Tensor, Tensor>> saved_;
};

}  // namespace

std::string training_forward_problem(Sequential& model, int64_t n, int64_t rows, int64_t cols) {
    autograd::NoGradGuard no_tape;
    Restore restore(model);
    model.train();
    Tensor x = Tensor::zeros({n, 1, rows, cols});
    for (const auto& [name, layer] : model.children()) {
        try {
            x = (*layer)(x);
        } catch (const std::exception& e) {
            return fmt::format("layer '{}' ({}): {}", name, layer->kind(), e.what());
        }
    }
    return "";
}

BatchPlan plan_batches(Sequential& model, const Dataset& data, int64_t batch, bool drop_last) {
    BatchPlan p;
    p.count = data.count;
    p.batch = std::min(batch, data.count);
    if (p.count < 1) throw SetupError("the training set holds no images");
    const int64_t rest = p.count % p.batch;
    p.last = rest ? rest : p.batch;
    if (const std::string why = training_forward_problem(model, p.batch, data.rows, data.cols);
        !why.empty()) {
        if (p.batch == 1)
            throw SetupError(fmt::format(
                "--batch 1: the model cannot train on one image at a time: {}. BatchNorm "
                "normalises each feature by the batch's mean and variance, and a single value "
                "has no variance: use --batch 2 or more (BatchNorm is meant for batches of about "
                "16 and up), or --batchnorm off",
                why));
        throw SetupError(
            fmt::format("the model cannot train on a batch of {} images: {}", p.batch, why));
    }
    if (rest == 0) return p;
    if (drop_last) {
        p.skip_last = true;
        p.skip_reason =
            fmt::format("--drop-last: the last batch of each epoch ({} of {} images) is dropped",
                        rest, p.count);
    } else if (const std::string why = training_forward_problem(model, rest, data.rows, data.cols);
               !why.empty()) {
        p.skip_last = true;
        p.skip_reason = fmt::format(
            "the last batch of each epoch holds {} image{} ({} training images, --batch {}), "
            "which the model cannot train on ({}); it is skipped, as PyTorch's DataLoader would "
            "with drop_last (--drop-last drops any partial last batch)",
            rest, rest == 1 ? "" : "s", p.count, p.batch, why);
    }
    return p;
}

}  // namespace normgrad::train
