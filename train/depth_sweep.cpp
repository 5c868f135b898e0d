#include "normgrad/train/depth_sweep.hpp"

#include <functional>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/conv2d.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/norms.hpp"
#include "normgrad/ops/cross_entropy.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/grad_stats.hpp"

namespace normgrad::train {

double DepthPoint::first_over_last() const {
    if (weight_grad_norms.size() < 2 || weight_grad_norms.back() == 0.0) return kNoValue;
    return weight_grad_norms.front() / weight_grad_norms.back();
}

namespace {

// Every Dense and Conv2d weight, by path, in the order the layers were added (forward order;
// a residual block's projection after its body).
void collect_weights(const Module& model, std::vector<std::string>* names,
                     std::vector<Tensor>* weights) {
    model.visit([&](const std::string& path, const Module& m) {
        if (auto* d = dynamic_cast<const Dense*>(&m)) {
            names->push_back(path);
            weights->push_back(d->weight);
        } else if (auto* c = dynamic_cast<const Conv2d*>(&m)) {
            names->push_back(path);
            weights->push_back(c->weight);
        }
    });
}

}  // namespace

std::vector<DepthPoint> depth_sweep(const ModelSpec& spec, const std::vector<int>& depths,
                                    const std::vector<Norm>& norms, const Dataset& data,
                                    const SweepData& how) {
    Rng order_rng = data_order_rng(how.seed);
    const auto order = epoch_order(data.count, how.fixed_batch ? nullptr : &order_rng);
    const bool sweeps_depth = sized_by_depth(spec);
    const std::vector<int> sweep = sweeps_depth ? depths : std::vector<int>{0};
    const int64_t batch = std::min(how.batch, data.count);
    std::vector<DepthPoint> out;
    for (int depth : sweep)
        for (const Norm& norm : norms) {
            ModelSpec s = spec;
            if (sweeps_depth) s.depth = depth;
            s.norm = norm;
            Rng init(how.seed);
            seed_training_rng(training_rng_seed(how.seed));
            auto model = build_model(s, init);
            model->train();
            DepthPoint p{depth, norm, {}, {}};
            std::vector<Tensor> weights;
            collect_weights(*model, &p.layers, &weights);
            p.weight_grad_norms.assign(weights.size(), 0.0);
            for (int b = 0; b < how.batches; ++b) {
                // Batch b: images b*B .. b*B+B-1 of the order, wrapping round the data set.
                const int64_t first = (int64_t(b) * batch) % data.count;
                const int64_t n = std::min(batch, data.count - first);
                Batch bt = make_batch(data, order, first, n, s.input);
                model->zero_grad();
                autograd::backward(cross_entropy((*model)(bt.images), bt.labels));
                for (size_t k = 0; k < weights.size(); ++k)
                    p.weight_grad_norms[k] +=
                        l2_norm(weights[k].grad(), weights[k].numel()) / how.batches;
            }
            out.push_back(std::move(p));
        }
    return out;
}

}  // namespace normgrad::train
