#include "normgrad/train/depth_sweep.hpp"

#include "normgrad/autograd.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/norms.hpp"
#include "normgrad/ops/cross_entropy.hpp"
#include "normgrad/train/batches.hpp"
#include "normgrad/train/grad_stats.hpp"

namespace normgrad::train {

double DepthPoint::first_over_last() const {
    if (dense_grad_norms.size() < 2 || dense_grad_norms.back() == 0.0) return kNoValue;
    return dense_grad_norms.front() / dense_grad_norms.back();
}

std::vector<DepthPoint> depth_sweep(const ModelSpec& spec, const std::vector<int>& depths,
                                    const Dataset& data, int64_t batch, int batches,
                                    uint64_t seed) {
    Rng order_rng = data_order_rng(seed);
    const auto order = epoch_order(data.count, &order_rng);
    std::vector<DepthPoint> out;
    for (int depth : depths)
        for (bool bn : {false, true}) {
            ModelSpec s = spec;
            s.kind = "mlp";
            s.depth = depth;
            s.batchnorm = bn;
            Rng init(seed);
            auto model = build_model(s, init);
            model->train();
            std::vector<Tensor> weights;
            for (const auto& [name, m] : model->children())
                if (auto* d = dynamic_cast<Dense*>(m.get())) weights.push_back(d->weight);
            DepthPoint p{depth, bn, std::vector<double>(weights.size(), 0.0)};
            for (int b = 0; b < batches; ++b) {
                Batch bt =
                    make_batch(data, order, (b * batch) % data.count, std::min(batch, data.count));
                model->zero_grad();
                autograd::backward(cross_entropy((*model)(bt.images), bt.labels));
                for (size_t k = 0; k < weights.size(); ++k)
                    p.dense_grad_norms[k] +=
                        l2_norm(weights[k].grad(), weights[k].numel()) / batches;
            }
            out.push_back(std::move(p));
        }
    return out;
}

}  // namespace normgrad::train
