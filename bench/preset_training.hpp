// The benchmark's preset training, for the bench programs that time its steps one by one
// (grad_stats_cost, placement_cost): a preset model (mlp or cnn, BatchNorm on or off) built from
// seed 0, SGD with lr 0.05 and momentum 0.9, batches of 128 in the data order of seed 0, as
// bench/bench.py runs `normgrad train`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/optim.hpp"
#include "normgrad/random.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/models.hpp"

namespace normgrad::bench {

class PresetTraining {
  public:
    static constexpr int64_t kBatch = 128;

    PresetTraining(const std::string& kind, bool batchnorm, const Dataset& train_set)
        : train_set_(train_set),
          model_(build(kind, batchnorm)),
          params_(model_->parameters()),
          opt_(params_, sgd_options()),
          order_rng_(train::data_order_rng(0)),
          order_(train::epoch_order(train_set.count, &order_rng_)) {}

    Sequential& model() { return *model_; }
    const std::vector<Parameter>& params() const { return params_; }
    Sgd& optimizer() { return opt_; }

    // Before step `step` (counted from 0): a new data order at each epoch's start but the first.
    // Apart from batch(), so that a caller can leave the shuffle out of a step's time.
    void begin_step(int64_t step) {
        at_ = step % (train_set_.count / kBatch);
        if (at_ == 0 && step > 0) order_ = train::epoch_order(train_set_.count, &order_rng_);
    }
    // That step's batch.
    train::Batch batch() const {
        return train::make_batch(train_set_, order_, at_ * kBatch, kBatch);
    }

  private:
    static std::shared_ptr<Sequential> build(const std::string& kind, bool batchnorm) {
        train::ModelSpec spec;
        spec.kind = kind;
        spec.norm = batchnorm ? train::Norm::batch() : train::Norm::none();
        Rng init_rng(0);
        return train::build_model(spec, init_rng);
    }
    static SgdOptions sgd_options() {
        SgdOptions sgd;
        sgd.lr = 0.05f;
        sgd.momentum = 0.9f;
        return sgd;
    }

    const Dataset& train_set_;
    std::shared_ptr<Sequential> model_;
    std::vector<Parameter> params_;
    Sgd opt_;
    Rng order_rng_;
    std::vector<int64_t> order_;
    int64_t at_ = 0;  // the current step's batch within the epoch
};

}  // namespace normgrad::bench
