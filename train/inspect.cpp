// The BatchNorm layers of a model on real data (inspect.hpp): module hooks catch each layer's
// input and output on one batch, in training-mode normalisation and in evaluation mode; every
// buffer is saved before and written back after.
#include "normgrad/train/inspect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/storage.hpp"

namespace normgrad::train {

namespace {

struct Found {
    std::string name;
    BatchNorm* bn;
};

std::vector<Found> find_batch_norms(Module& model) {
    std::vector<Found> out;
    model.visit([&](const std::string& path, Module& m) {
        if (auto* bn = dynamic_cast<BatchNorm*>(&m)) out.push_back({path, bn});
    });
    return out;
}

// Every BatchNorm in training mode, every other module in evaluation mode (Dropout off).
void batch_norms_training(Module& model, const std::vector<Found>& layers) {
    model.eval();
    for (const Found& f : layers) f.bn->train(true);
}

// Accuracy of `model` as it is set (modes) on `data` in file order, batches of `batch`.
double accuracy(Module& model, const Dataset& data, int64_t batch, InputScaling scaling) {
    const auto order = epoch_order(data.count, nullptr);
    int64_t correct = 0;
    for (int64_t first = 0; first < data.count; first += batch) {
        if (((first / batch) & 63) == 0) throw_if_stop_requested("inspecting: nothing was changed");
        const int64_t n = std::min(batch, data.count - first);
        Batch b = make_batch(data, order, first, n, scaling);
        Tensor logits = model(b.images);
        const int64_t K = logits.dim(1);
        const float* z = logits.data();
        for (int64_t i = 0; i < n; ++i) {
            const float* row = z + i * K;
            correct += (std::max_element(row, row + K) - row) == b.labels[size_t(i)];
        }
    }
    return data.count ? double(correct) / double(data.count) : 0.0;
}

struct Captured {
    ChannelStats input, output;
    int64_t m = 0;
};

// One forward of `x` with a hook that records each BatchNorm's input and output statistics.
std::map<const Module*, Captured> capture(Module& model, const Tensor& x) {
    std::map<const Module*, Captured> seen;
    HookHandle hook = add_module_hook([&](const Module& m, const Tensor& in, const Tensor& out) {
        if (!dynamic_cast<const BatchNorm*>(&m)) return;
        Captured c;
        c.input = channel_stats(in);
        c.output = channel_stats(out);
        c.m = in.numel() / in.dim(1);
        seen[&m] = std::move(c);
    });
    model(x);
    return seen;
}

ModeView view(const Captured& c, const BatchNorm& bn) {
    ModeView v;
    v.input = summarise(c.input);
    v.output = summarise(c.output);
    const auto C = size_t(bn.num_features);
    const std::vector<float> g =
        bn.gamma.defined() ? bn.gamma.to_vector() : std::vector<float>(C, 1.f);
    const std::vector<float> b =
        bn.beta.defined() ? bn.beta.to_vector() : std::vector<float>(C, 0.f);
    for (size_t i = 0; i < C; ++i) {
        v.mean_off_beta += std::abs(c.output.mean[i] - double(b[i])) / double(C);
        v.std_off_gamma +=
            std::abs(std::sqrt(c.output.var[i]) - std::abs(double(g[i]))) / double(C);
    }
    return v;
}

}  // namespace

ValueSummary summarise(const std::vector<float>& values, double start, int bins) {
    ValueSummary s;
    s.start = start;
    s.histogram.assign(size_t(std::max(bins, 1)), 0);
    if (values.empty()) return s;
    s.min = s.max = values[0];
    double sum = 0.0;
    for (float v : values) {
        s.min = std::min(s.min, double(v));
        s.max = std::max(s.max, double(v));
        sum += v;
    }
    s.mean = sum / double(values.size());
    const double width = (s.max - s.min) / double(s.histogram.size());
    for (float v : values) {
        size_t bin = width > 0 ? size_t((double(v) - s.min) / width) : 0;
        s.histogram[std::min(bin, s.histogram.size() - 1)] += 1;
    }
    return s;
}

ChannelStats channel_stats(const Tensor& x) {
    if (x.rank() != 2 && x.rank() != 4)
        throw std::invalid_argument(
            fmt::format("channel_stats: expected [N, C] or [N, C, H, W], got {}", x.shape().str()));
    const int64_t N = x.dim(0), C = x.dim(1);
    const int64_t inner = x.rank() == 4 ? x.dim(2) * x.dim(3) : 1;
    const std::vector<float> v = x.to_vector();
    ChannelStats s;
    s.mean.assign(size_t(C), 0.0);
    s.var.assign(size_t(C), 0.0);
    const double m = double(N * inner);
    for (int64_t c = 0; c < C; ++c) {
        double sum = 0.0;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < inner; ++i) sum += v[size_t((n * C + c) * inner + i)];
        const double mean = sum / m;
        double sq = 0.0;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < inner; ++i) {
                const double d = v[size_t((n * C + c) * inner + i)] - mean;
                sq += d * d;
            }
        s.mean[size_t(c)] = mean;
        s.var[size_t(c)] = sq / m;
    }
    return s;
}

ChannelMoments summarise(const ChannelStats& s) {
    ChannelMoments r;
    const double C = double(s.mean.size());
    for (size_t c = 0; c < s.mean.size(); ++c) {
        r.abs_mean += std::abs(s.mean[c]) / C;
        r.std += std::sqrt(s.var[c]) / C;
    }
    return r;
}

std::vector<std::string> batch_norm_layers(const Module& model) {
    std::vector<std::string> names;
    model.visit([&](const std::string& path, const Module& m) {
        if (dynamic_cast<const BatchNorm*>(&m)) names.push_back(path);
    });
    return names;
}

Inspection inspect_batch_norm(Module& model, const Dataset& test, int64_t batch,
                              InputScaling scaling, const std::vector<int64_t>& accuracy_batches) {
    if (batch < 2)
        throw std::invalid_argument(fmt::format(
            "inspect: a batch of {} image: batch statistics need at least 2 images", batch));
    const std::vector<Found> layers = find_batch_norms(model);
    if (layers.empty()) throw std::invalid_argument("inspect: the model has no BatchNorm layer");
    if (test.count == 0) throw std::invalid_argument("inspect: the test set is empty");

    // Every buffer (running statistics, num_batches_tracked) as it is now, to put back.
    BufferSnapshot snapshot(model);

    Inspection r;
    r.test_images = test.count;
    try {
        autograd::NoGradGuard no_grad;
        const Storage::KeepBuffers keep;  // the same pass batch after batch (storage.hpp)
        r.batch_images = std::min(batch, test.count);
        const auto order = epoch_order(test.count, nullptr);
        const Batch x = make_batch(test, order, 0, r.batch_images, scaling);

        // Evaluation mode first, with the running statistics as the file holds them.
        model.eval();
        const auto in_eval = capture(model, x.images);
        batch_norms_training(model, layers);
        const auto in_train = capture(model, x.images);
        snapshot.restore();  // the running statistics as before, for what follows

        for (const Found& f : layers) {
            BatchNorm& bn = *f.bn;
            LayerInspection l;
            l.name = f.name;
            l.kind = bn.kind();
            l.channels = bn.num_features;
            l.affine = bn.gamma.defined();
            l.tracked = bn.running_mean.defined();
            if (l.affine) {
                l.gamma = summarise(bn.gamma.to_vector(), 1.0);
                l.beta = summarise(bn.beta.to_vector(), 0.0);
            }
            const auto t = in_train.find(&bn), e = in_eval.find(&bn);
            if (t == in_train.end() || e == in_eval.end())
                throw std::runtime_error(
                    fmt::format("inspect: the layer {} was not reached by the forward", f.name));
            l.values_per_channel = t->second.m;
            l.train_mode = view(t->second, bn);
            l.eval_mode = view(e->second, bn);
            if (l.tracked) {
                const std::vector<float> rm = bn.running_mean.to_vector(),
                                         rv = bn.running_var.to_vector();
                const ChannelStats& s = t->second.input;
                const double C = double(l.channels);
                const double m = double(l.values_per_channel);
                for (size_t c = 0; c < rm.size(); ++c) {
                    l.mean_gap += std::abs(double(rm[c]) - s.mean[c]) /
                                  std::sqrt(s.var[c] + double(bn.options.eps)) / C;
                    const double unbiased = s.var[c] * m / (m - 1.0);
                    l.var_rel_diff +=
                        (unbiased > 0 ? std::abs(double(rv[c]) / unbiased - 1.0) : INFINITY) / C;
                }
            }
            r.layers.push_back(std::move(l));
        }

        model.eval();
        r.eval_accuracy = accuracy(model, test, 128, scaling);
        for (int64_t b : accuracy_batches) {
            BatchAccuracy a;
            a.batch = b;
            std::string one_value;
            for (const Found& f : layers)
                if (f.bn->kind() == "BatchNorm1d") {
                    one_value = f.name;
                    break;
                }
            if (b == 1 && !one_value.empty()) {
                a.undefined_why = fmt::format(
                    "{} is a BatchNorm1d: with one image each feature has a single value, its "
                    "batch variance is 0 and its mean is the value itself, so x - mean is 0 and "
                    "every output would be beta whatever the image",
                    one_value);
            } else {
                batch_norms_training(model, layers);
                try {
                    a.accuracy = accuracy(model, test, b, scaling);
                } catch (const std::invalid_argument& err) {
                    a.undefined_why = err.what();
                }
                snapshot.restore();
            }
            r.train_mode_accuracy.push_back(std::move(a));
        }
    } catch (...) {
        snapshot.restore();
        throw;
    }
    snapshot.restore();
    return r;
}

}  // namespace normgrad::train
