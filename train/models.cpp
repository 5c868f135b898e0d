// Building a model from its spec (models.hpp): one walk over the parsed layers that follows the
// shape of one image through them, checks that each layer fits what it gets, and (when asked)
// constructs the layers. The same walk, without constructing anything, gives the memory estimate
// and the reason a spec does not fit the images.
#include "normgrad/train/models.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "normgrad/layers/activations.hpp"
#include "normgrad/layers/avg_pool2d.hpp"
#include "normgrad/layers/batch_norm.hpp"
#include "normgrad/layers/conv2d.hpp"
#include "normgrad/layers/dense.hpp"
#include "normgrad/layers/dropout.hpp"
#include "normgrad/layers/flatten.hpp"
#include "normgrad/layers/group_norm.hpp"
#include "normgrad/layers/layer_norm.hpp"
#include "normgrad/layers/max_pool2d.hpp"
#include "normgrad/layers/residual.hpp"
#include "normgrad/layers/rms_norm.hpp"

namespace normgrad::train {

namespace {

using Kind = ArchLayer::Kind;
using Dims = std::vector<int64_t>;  // one image: {C, H, W}, or {F} features
using Layers = std::vector<std::pair<std::string, std::shared_ptr<Module>>>;

std::string dims_str(const Dims& d) {
    return fmt::format("[{}]", fmt::join(d, ", "));
}

double numel(const Dims& d) {
    double n = 1;
    for (int64_t v : d) n *= double(v);
    return n;
}

// The default number of groups: the largest up to 8 that divides the channels.
int64_t default_groups(int64_t channels) {
    for (int64_t g = 8; g > 1; --g)
        if (channels % g == 0) return g;
    return 1;
}

std::shared_ptr<Module> make_activation(Activation a) {
    switch (a) {
        case Activation::Sigmoid:
            return std::make_shared<Sigmoid>();
        case Activation::Tanh:
            return std::make_shared<Tanh>();
        case Activation::ReLU:
            break;
    }
    return std::make_shared<ReLU>();
}

// Layer names within one sequence (the model, or a residual block's inside).
struct Counters {
    int fc = 0, conv = 0, norm = 0, act = 0, pool = 0, drop = 0, res = 0, flatten = 0, gap = 0;
};

std::string numbered(const char* base, int n, bool first_plain) {
    return first_plain && n == 1 ? std::string(base) : fmt::format("{}{}", base, n);
}

class Walker {
  public:
    // rng null: plan only (shapes, sizes, errors), nothing is constructed.
    Walker(const ModelSpec& spec, const Arch& arch, std::string what, Rng* rng)
        : spec_(spec), arch_(arch), what_(std::move(what)), rng_(rng) {}

    double params = 0;       // trained values
    double activations = 0;  // floats kept per image for the backward pass
    bool has_conv = false;
    std::vector<std::string> lines;  // "conv1 [32, 28, 28]"

    Dims walk(const std::vector<ArchLayer>& layers, Dims d, Layers* out,
              const std::string& prefix) {
        Counters n;
        for (const ArchLayer& l : layers) d = step(l, d, n, out, prefix);
        return d;
    }

    [[noreturn]] void fail(const ArchLayer& l, const std::string& why) const {
        throw ArchError(fmt::format("{} '{}': '{}' at character {}: {}", what_, arch_.text, l.token,
                                    l.position + 1, why));
    }

  private:
    void add(Layers* out, const std::string& prefix, const std::string& name, const Dims& d,
             const std::function<std::shared_ptr<Module>()>& make) {
        lines.push_back(fmt::format("{}{} {}", prefix, name, dims_str(d)));
        if (rng_ && out) out->emplace_back(name, make());
    }

    void need_images(const ArchLayer& l, const Dims& d, const char* what) const {
        if (d.size() != 3)
            fail(l, fmt::format("{} needs images [C, H, W], but gets {} features (it cannot "
                                "follow a dense layer, flatten or gap)",
                                what, dims_str(d)));
    }

    Dims step(const ArchLayer& l, Dims d, Counters& n, Layers* out, const std::string& prefix) {
        Rng* rng = rng_;
        const Init init = spec_.init;
        switch (l.kind) {
            case Kind::Dense: {
                if (d.size() == 3) d = flatten(l, d, n, out, prefix);
                const int64_t in = d[0], units = l.size;
                params += double(in) * double(units) + double(units);
                activations += double(units);
                add(out, prefix, fmt::format("fc{}", ++n.fc), {units},
                    [=] { return std::make_shared<Dense>(in, units, *rng, init); });
                return {units};
            }
            case Kind::Conv: {
                need_images(l, d, "a convolution");
                const int k = l.kernel, s = l.stride, p = l.padding < 0 ? k / 2 : l.padding;
                if (d[1] + 2 * p < k || d[2] + 2 * p < k)
                    fail(l, fmt::format("a {0}x{0} kernel does not fit the {1}x{2} images it "
                                        "gets (padding {3})",
                                        k, d[1], d[2], p));
                const int64_t c = d[0], out_c = l.size;
                const Dims y{out_c, (d[1] + 2 * p - k) / s + 1, (d[2] + 2 * p - k) / s + 1};
                params += double(c) * double(out_c) * k * k + double(out_c);
                activations += numel(y);
                has_conv = true;
                add(out, prefix, fmt::format("conv{}", ++n.conv), y,
                    [=] { return std::make_shared<Conv2d>(c, out_c, k, *rng, s, p, init); });
                return y;
            }
            case Kind::Norm:
            case Kind::BatchNorm:
            case Kind::LayerNorm:
            case Kind::GroupNorm:
            case Kind::RMSNorm:
                norm(l, d, n, out, prefix);
                return d;
            case Kind::Activation: {
                const Activation a =
                    l.activation.empty() ? spec_.activation : parse_activation(l.activation);
                activations += numel(d);
                add(out, prefix, fmt::format("act{}", ++n.act), d,
                    [=] { return make_activation(a); });
                return d;
            }
            case Kind::MaxPool:
            case Kind::AvgPool: {
                need_images(l, d, "pooling");
                const int k = l.kernel;
                if (d[1] < k || d[2] < k)
                    fail(l, fmt::format("a {0}x{0} pooling window does not fit the {1}x{2} "
                                        "images it gets",
                                        k, d[1], d[2]));
                const Dims y{d[0], d[1] / k, d[2] / k};
                activations += numel(y);
                const bool max = l.kind == Kind::MaxPool;
                add(out, prefix, fmt::format("pool{}", ++n.pool), y,
                    [=]() -> std::shared_ptr<Module> {
                        if (max) return std::make_shared<MaxPool2d>(k);
                        return std::make_shared<AvgPool2d>(k);
                    });
                return y;
            }
            case Kind::GlobalAvgPool: {
                need_images(l, d, "global average pooling");
                activations += double(d[0]);
                add(out, prefix, numbered("gap", ++n.gap, true), {d[0]},
                    [] { return std::make_shared<GlobalAvgPool2d>(); });
                return {d[0]};
            }
            case Kind::Dropout: {
                const float rate = l.rate;
                activations += 2 * numel(d);  // the mask and the output
                add(out, prefix, fmt::format("drop{}", ++n.drop), d,
                    [=] { return std::make_shared<Dropout>(rate); });
                return d;
            }
            case Kind::Flatten:
                return d.size() == 3 ? flatten(l, d, n, out, prefix) : d;
            case Kind::Residual:
                return residual(l, d, n, out, prefix);
        }
        fail(l, "unknown layer");
    }

    Dims flatten(const ArchLayer&, const Dims& d, Counters& n, Layers* out,
                 const std::string& prefix) {
        const Dims y{d[0] * d[1] * d[2]};
        add(out, prefix, numbered("flatten", ++n.flatten, true), y,
            [] { return std::make_shared<Flatten>(); });
        return y;
    }

    void norm(const ArchLayer& l, const Dims& d, Counters& n, Layers* out,
              const std::string& prefix) {
        Norm which = spec_.norm;
        if (l.kind == Kind::BatchNorm) which = Norm::batch();
        if (l.kind == Kind::LayerNorm) which = {Norm::Kind::Layer, 0};
        if (l.kind == Kind::RMSNorm) which = {Norm::Kind::RMS, 0};
        if (l.kind == Kind::GroupNorm) which = {Norm::Kind::Group, l.size};
        const int64_t c = d[0];
        const bool images = d.size() == 3;
        switch (which.kind) {
            case Norm::Kind::None:
                return;
            case Norm::Kind::Batch:
                params += 2.0 * double(c);
                activations += numel(d);
                add(out, prefix, fmt::format("bn{}", ++n.norm), d,
                    [=]() -> std::shared_ptr<Module> {
                        if (images) return std::make_shared<BatchNorm2d>(c);
                        return std::make_shared<BatchNorm1d>(c);
                    });
                return;
            case Norm::Kind::Layer:
            case Norm::Kind::RMS: {
                const bool rms = which.kind == Norm::Kind::RMS;
                params += (rms ? 1.0 : 2.0) * numel(d);
                activations += 6 * numel(d);  // written with general ops: their intermediates
                add(out, prefix, fmt::format("{}{}", rms ? "rms" : "ln", ++n.norm), d,
                    [=]() -> std::shared_ptr<Module> {
                        if (rms) return std::make_shared<RMSNorm>(d);
                        return std::make_shared<LayerNorm>(d);
                    });
                return;
            }
            case Norm::Kind::Group: {
                const int64_t g = which.groups > 0 ? which.groups : default_groups(c);
                if (c % g != 0)
                    fail(l, fmt::format("GroupNorm with {} groups needs a number of channels "
                                        "divisible by {}, but gets {} {}",
                                        g, g, dims_str(d), images ? "images" : "features"));
                params += 2.0 * double(c);
                activations += 6 * numel(d);
                add(out, prefix, fmt::format("gn{}", ++n.norm), d,
                    [=] { return std::make_shared<GroupNorm>(g, c); });
                return;
            }
        }
    }

    Dims residual(const ArchLayer& l, const Dims& d, Counters& n, Layers* out,
                  const std::string& prefix) {
        const std::string name = fmt::format("res{}", ++n.res);
        Layers body;
        const Dims y = walk(l.inner, d, &body, prefix + name + ".");
        std::shared_ptr<Module> projection;
        if (y != d) {
            if (y.size() != d.size())
                fail(l, fmt::format("the block turns its input {} into {}, which cannot be "
                                    "added to it: a residual block keeps images as images and "
                                    "features as features",
                                    dims_str(d), dims_str(y)));
            if (d.size() == 1) {
                params += double(d[0]) * double(y[0]) + double(y[0]);
                if (rng_) projection = std::make_shared<Dense>(d[0], y[0], *rng_, spec_.init);
            } else {
                // A 1x1 convolution with the stride that maps the input's size onto the
                // output's, as ResNet's downsampling shortcut.
                int64_t stride = 0;
                for (int64_t s = 1; s <= d[1] && !stride; ++s)
                    if ((d[1] - 1) / s + 1 == y[1] && (d[2] - 1) / s + 1 == y[2]) stride = s;
                if (!stride)
                    fail(l, fmt::format("the block's output {} cannot be added to its input "
                                        "{}: no strided 1x1 projection maps one size onto the "
                                        "other",
                                        dims_str(y), dims_str(d)));
                params += double(d[0]) * double(y[0]) + double(y[0]);
                has_conv = true;
                if (rng_)
                    projection =
                        std::make_shared<Conv2d>(d[0], y[0], 1, *rng_, int(stride), 0, spec_.init);
            }
            lines.push_back(fmt::format("{}{}.proj {}", prefix, name, dims_str(y)));
        }
        activations += numel(y);
        lines.push_back(fmt::format("{}{} {}", prefix, name, dims_str(y)));
        if (rng_ && out)
            out->emplace_back(name, std::make_shared<Residual>(std::move(body), projection));
        return y;
    }

    const ModelSpec& spec_;
    const Arch& arch_;
    std::string what_;
    Rng* rng_;
};

// Parses the spec and walks it from the images to the classes.
struct Walked {
    double params = 0, activations = 0;
    bool has_conv = false;
    std::vector<std::string> lines;
    Layers layers;
};

Walked walk_model(const ModelSpec& spec, Rng* rng) {
    const std::string what = spec.kind == "arch" ? "--arch" : "--model " + spec.kind;
    if (spec.kind != "arch" && spec.kind != "mlp" && spec.kind != "resmlp" && spec.kind != "cnn")
        throw std::invalid_argument(fmt::format(
            "unknown model '{}' (expected mlp, resmlp, cnn or an --arch spec)", spec.kind));
    if (sized_by_depth(spec) && (spec.depth < 1 || spec.hidden < 1))
        throw std::invalid_argument(
            fmt::format("{}: --depth and --hidden must be at least 1, got {} and {}", spec.kind,
                        spec.depth, spec.hidden));
    const Arch arch = parse_arch(spec_text(spec), what);
    Walker w(spec, arch, what, rng);
    Walked r;
    const Dims y = w.walk(arch.layers, {1, spec.image_rows, spec.image_cols}, &r.layers, "");
    if (y != Dims{spec.classes})
        w.fail(arch.layers.back(),
               fmt::format("the model ends with {}, but the data has {} classes (end the spec "
                           "with dense:{})",
                           dims_str(y), spec.classes, spec.classes));
    r.params = w.params;
    r.activations = w.activations;
    r.has_conv = w.has_conv;
    r.lines = std::move(w.lines);
    return r;
}

}  // namespace

std::string to_string(const Norm& n) {
    switch (n.kind) {
        case Norm::Kind::Batch:
            return "batch";
        case Norm::Kind::Layer:
            return "layer";
        case Norm::Kind::Group:
            return n.groups > 0 ? fmt::format("group:{}", n.groups) : "group";
        case Norm::Kind::RMS:
            return "rms";
        case Norm::Kind::None:
            break;
    }
    return "none";
}

std::string describe(const Norm& n) {
    switch (n.kind) {
        case Norm::Kind::Batch:
            return "BatchNorm";
        case Norm::Kind::Layer:
            return "LayerNorm";
        case Norm::Kind::Group:
            return n.groups > 0 ? fmt::format("GroupNorm ({} groups)", n.groups) : "GroupNorm";
        case Norm::Kind::RMS:
            return "RMSNorm";
        case Norm::Kind::None:
            break;
    }
    return "no normalisation";
}

Norm parse_norm(const std::string& s) {
    if (s == "none") return {};
    if (s == "batch") return Norm::batch();
    if (s == "layer") return {Norm::Kind::Layer, 0};
    if (s == "rms") return {Norm::Kind::RMS, 0};
    if (s == "group") return {Norm::Kind::Group, 0};
    if (s.rfind("group:", 0) == 0) {
        const std::string g = s.substr(6);
        size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(g, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == g.size() && !g.empty() && v >= 1 && v <= 65536) return {Norm::Kind::Group, v};
        throw std::invalid_argument(
            fmt::format("'{}': expected a number of groups in 1..65536 after 'group:'", s));
    }
    throw std::invalid_argument(fmt::format(
        "unknown normalisation '{}' (expected none, batch, layer, group, group:G or rms)", s));
}

std::string spec_text(const ModelSpec& s) {
    if (s.kind == "mlp") {
        std::string t;
        for (int i = 0; i < s.depth; ++i) t += fmt::format("dense:{},norm,act,", s.hidden);
        return t + fmt::format("dense:{}", s.classes);
    }
    if (s.kind == "resmlp") {
        std::string t = fmt::format("dense:{},norm,act", s.hidden);
        for (int i = 0; i < s.depth; ++i) t += fmt::format(",res(dense:{},norm,act)", s.hidden);
        return t + fmt::format(",dense:{}", s.classes);
    }
    if (s.kind == "cnn")
        return fmt::format(
            "conv3x3:32,norm,act,maxpool2,conv3x3:64,norm,act,maxpool2,flatten,dense:128,norm,"
            "act,dense:{}",
            s.classes);
    return s.arch;
}

bool sized_by_depth(const ModelSpec& spec) {
    return spec.kind == "mlp" || spec.kind == "resmlp";
}

std::shared_ptr<Sequential> build_model(const ModelSpec& spec, Rng& rng) {
    Walked w = walk_model(spec, &rng);
    auto m = std::make_shared<Sequential>();
    for (auto& [name, layer] : w.layers) m->add(name, std::move(layer));
    return m;
}

std::string image_size_problem(const ModelSpec& spec, int64_t rows, int64_t cols) {
    ModelSpec s = spec;
    s.image_rows = rows;
    s.image_cols = cols;
    try {
        walk_model(s, nullptr);
    } catch (const std::invalid_argument& e) {  // ArchError included
        return e.what();
    }
    return "";
}

std::vector<std::string> describe_layers(const ModelSpec& spec) {
    return walk_model(spec, nullptr).lines;
}

MemoryEstimate estimate_training_memory(const ModelSpec& s, int64_t batch,
                                        const std::string& optimizer, float momentum) {
    // In double: the point is to notice sizes that do not fit, however absurd.
    const Walked w = walk_model(s, nullptr);
    double per_image = double(s.image_rows) * double(s.image_cols) + w.activations;
    if (w.has_conv) per_image *= 1.5;  // im2col / Winograd work space
    MemoryEstimate e;
    e.state_copies = 2 + (optimizer == "sgd" ? (momentum > 0.f ? 1 : 0) : 2);
    const double cap = 1.8e19;  // stays within uint64
    e.parameters = uint64_t(std::min(w.params, cap));
    e.parameter_bytes = uint64_t(std::min(w.params * 4.0 * e.state_copies, cap));
    // Activations and, during the backward pass, their gradients.
    e.activation_bytes = uint64_t(std::min(double(batch) * per_image * 4.0 * 2.0, cap));
    return e;
}

std::string to_string(Activation a) {
    switch (a) {
        case Activation::Sigmoid:
            return "sigmoid";
        case Activation::Tanh:
            return "tanh";
        case Activation::ReLU:
            break;
    }
    return "relu";
}

Activation parse_activation(const std::string& s) {
    if (s == "relu") return Activation::ReLU;
    if (s == "sigmoid") return Activation::Sigmoid;
    if (s == "tanh") return Activation::Tanh;
    throw std::invalid_argument(
        fmt::format("unknown activation '{}' (expected relu, sigmoid or tanh)", s));
}

std::string to_string(const Init& init) {
    switch (init.kind) {
        case Init::Kind::He:
            return "he";
        case Init::Kind::Xavier:
            return "xavier";
        case Init::Kind::Normal:
            return fmt::format("normal({})", init.std);
        case Init::Kind::PyTorchDefault:
            break;
    }
    return "pytorch";
}

}  // namespace normgrad::train
