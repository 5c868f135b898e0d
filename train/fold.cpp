// Folding BatchNorm into the Dense or Conv2d before it (fold.hpp): the folded model is built
// from the spec without the BatchNorms, then the original and the folded model are walked side
// by side; every layer's values are copied, and each BatchNorm's affine map is multiplied into
// the copy of the layer before it.
#include "normgrad/train/fold.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include "normgrad/autograd.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/layers/conv2d.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/random.hpp"
#include "normgrad/storage.hpp"
#include "normgrad/train/arch.hpp"

namespace normgrad::train {

namespace {

// The character ranges of the explicit `batchnorm` tokens, each with the comma before it (or,
// for the first layer of a list, the comma after it).
void batch_norm_cuts(const std::string& text, const std::vector<ArchLayer>& layers,
                     std::vector<std::pair<size_t, size_t>>* cuts) {
    for (const ArchLayer& l : layers) {
        if (l.kind == ArchLayer::Kind::Residual) batch_norm_cuts(text, l.inner, cuts);
        if (l.kind != ArchLayer::Kind::BatchNorm) continue;
        size_t b = l.position, e = l.position + l.token.size();
        auto space = [&](size_t i) { return std::isspace(static_cast<unsigned char>(text[i])); };
        size_t before = b;
        while (before > 0 && space(before - 1)) --before;
        if (before > 0 && text[before - 1] == ',') {
            b = before - 1;
        } else {
            while (e < text.size() && space(e)) ++e;
            if (e < text.size() && text[e] == ',') ++e;
        }
        cuts->emplace_back(b, e);
    }
}

// W'_c = s_c W_c, b'_c = s_c (b_c - mean_c) + beta_c with s_c = gamma_c / sqrt(var_c + eps),
// in double.
void fold_into(Module& layer, const BatchNorm& bn) {
    Tensor w, b;
    int64_t out = 0;
    if (auto* d = dynamic_cast<Dense*>(&layer)) {
        w = d->weight;
        b = d->bias;
        out = d->out_features;
    } else if (auto* c = dynamic_cast<Conv2d*>(&layer)) {
        w = c->weight;
        b = c->bias;
        out = c->out_channels;
    }
    if (!w.defined() || out != bn.num_features || !b.defined())
        throw std::logic_error(
            fmt::format("fold: {} cannot take the {} after it", layer.describe(), bn.describe()));
    const int64_t per = w.numel() / out;  // row c of [out, in], or [out, in, k, k]'s block c
    float* wd = w.data();
    float* bd = b.data();
    const float* mean = bn.running_mean.data();
    const float* var = bn.running_var.data();
    const float* gamma = bn.gamma.defined() ? bn.gamma.data() : nullptr;
    const float* beta = bn.beta.defined() ? bn.beta.data() : nullptr;
    for (int64_t c = 0; c < out; ++c) {
        const double s =
            (gamma ? double(gamma[c]) : 1.0) / std::sqrt(double(var[c]) + double(bn.options.eps));
        for (int64_t k = 0; k < per; ++k) wd[c * per + k] = static_cast<float>(wd[c * per + k] * s);
        bd[c] = static_cast<float>((double(bd[c]) - double(mean[c])) * s +
                                   (beta ? double(beta[c]) : 0.0));
    }
}

void copy_values(const Module& from, Module& to, const std::string& name) {
    const auto a = from.state();
    const auto b = to.state();
    if (a.size() != b.size())
        throw std::logic_error(
            fmt::format("fold: {} has {} values, its copy {}", name, a.size(), b.size()));
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].name != b[i].name || a[i].tensor.shape() != b[i].tensor.shape())
            throw std::logic_error(fmt::format("fold: {}: {} {} against {} {}", name, a[i].name,
                                               a[i].tensor.shape().str(), b[i].name,
                                               b[i].tensor.shape().str()));
        b[i].tensor.copy_from(a[i].tensor);
    }
}

class Folder {
  public:
    std::vector<std::string> folds;

    // The children of `orig` (the model's sequence, or a residual block's body and projection)
    // against those of `folded`, which lacks the BatchNorms.
    void walk(const Module& orig, Module& folded, const std::string& prefix,
              const std::string& start) {
        const auto& fc = folded.children();
        size_t j = 0;
        Module* target = nullptr;  // the folded layer a BatchNorm here would fold into
        std::string target_name, previous = start;
        for (const auto& [name, child] : orig.children()) {
            const std::string full = prefix + name;
            if (const auto* bn = dynamic_cast<const BatchNorm*>(child.get())) {
                if (!target)
                    throw FoldError(fmt::format(
                        "{} ({}) follows {}, not a Dense or Conv2d: only a BatchNorm directly "
                        "after a dense layer or a convolution folds into it",
                        full, bn->kind(), previous));
                if (!bn->running_mean.defined())
                    throw FoldError(fmt::format(
                        "{} ({}) has no running statistics (track_running_stats off): it "
                        "normalises with each batch's statistics, which no fixed layer can do",
                        full, bn->kind()));
                fold_into(*target, *bn);
                folds.push_back(fmt::format("{} into {}", full, target_name));
                previous = fmt::format("{} ({})", full, bn->kind());
                continue;
            }
            if (j >= fc.size() || fc[j].second->kind() != child->kind())
                throw std::logic_error(
                    fmt::format("fold: {} ({}) has no counterpart in the model without BatchNorm",
                                full, child->kind()));
            Module& copy = *fc[j++].second;
            if (child->children().empty())
                copy_values(*child, copy, full);
            else
                walk(*child, copy, full + ".", fmt::format("the input of the block {}", full));
            const bool foldable = dynamic_cast<const Dense*>(child.get()) != nullptr ||
                                  dynamic_cast<const Conv2d*>(child.get()) != nullptr;
            target = foldable ? &copy : nullptr;
            target_name = full;
            previous = fmt::format("{} ({})", full, child->kind());
        }
        if (j != fc.size())
            throw std::logic_error(fmt::format(
                "fold: the model without BatchNorm has {} layers in {}, {} were matched", fc.size(),
                prefix.empty() ? "the model" : prefix, j));
    }
};

int count_batch_norms(const Module& model) {
    int n = 0;
    model.visit([&](const std::string&, const Module& m) {
        n += dynamic_cast<const BatchNorm*>(&m) != nullptr;
    });
    return n;
}

}  // namespace

ModelSpec spec_without_batch_norm(const ModelSpec& spec) {
    ModelSpec out = spec;
    if (spec.norm.kind == Norm::Kind::Batch) out.norm = Norm::none();
    if (spec.kind != "arch") return out;
    const Arch arch = parse_arch(spec.arch, "the model's spec");
    std::vector<std::pair<size_t, size_t>> cuts;
    batch_norm_cuts(spec.arch, arch.layers, &cuts);
    std::sort(cuts.begin(), cuts.end());
    for (auto it = cuts.rbegin(); it != cuts.rend(); ++it)
        out.arch.erase(it->first, it->second - it->first);
    return out;
}

FoldedModel fold_batch_norm(const Sequential& model, const ModelSpec& spec) {
    if (count_batch_norms(model) == 0)
        throw FoldError(fmt::format("the model ({}) has no BatchNorm to fold",
                                    spec.kind == "arch" ? "--arch " + spec.arch : spec.kind));
    FoldedModel f;
    f.spec = spec_without_batch_norm(spec);
    Rng rng(0);  // every value is overwritten
    f.model = build_model(f.spec, rng);
    Folder folder;
    folder.walk(model, *f.model, "", "the model's input");
    f.folds = std::move(folder.folds);
    if (count_batch_norms(*f.model) != 0)
        throw std::logic_error("fold: the folded model still has a BatchNorm");
    f.model->train(model.is_training());
    return f;
}

OutputDifference compare_outputs(Module& a, Module& b, const Dataset& data, int64_t batch,
                                 InputScaling scaling) {
    autograd::NoGradGuard no_grad;
    const Storage::KeepBuffers keep;  // the same pass batch after batch (storage.hpp)
    const bool a_training = a.is_training(), b_training = b.is_training();
    a.eval();
    b.eval();
    const auto order = epoch_order(data.count, nullptr);
    OutputDifference d;
    for (int64_t first = 0; first < data.count; first += batch) {
        const int64_t n = std::min(batch, data.count - first);
        const Batch x = make_batch(data, order, first, n, scaling);
        const Tensor ya = a(x.images), yb = b(x.images);
        if (ya.shape() != yb.shape())
            throw std::invalid_argument(fmt::format("compare_outputs: outputs {} and {}",
                                                    ya.shape().str(), yb.shape().str()));
        const float* pa = ya.data();
        const float* pb = yb.data();
        for (int64_t i = 0; i < ya.numel(); ++i) {
            const double diff = std::abs(double(pa[i]) - double(pb[i]));
            d.max_abs = std::max(d.max_abs, diff);
            d.max_rel = std::max(d.max_rel, diff / std::max(1.0, std::abs(double(pa[i]))));
        }
        d.values += ya.numel();
    }
    a.train(a_training);
    b.train(b_training);
    return d;
}

}  // namespace normgrad::train
