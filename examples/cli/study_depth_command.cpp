// normgrad study depth: where BatchNorm tames gradients, where it makes them explode, and what
// fixes it (train/study_depth.hpp has the protocol).
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <memory>

#include "flags.hpp"
#include "normgrad/files.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/study_depth.hpp"
#include "run_files.hpp"
#include "study_commands.hpp"
#include "study_page.hpp"
#include "svg_chart.hpp"
#include "training_flags.hpp"

namespace normgrad::cli {

namespace {

using train::DepthFamily;
using train::DepthStudyPoint;

struct DepthFlags {
    StudyFlags study;
    std::vector<int64_t> mlp_depths{4, 8, 16, 32, 64};
    std::vector<int64_t> cnn_depths{4, 8, 16};
    std::string families = "mlp,cnn";
    int64_t width = 128, channels = 8, steps = 469, batch = 128;
    float lr = 0.05f, momentum = 0.9f;
};

std::string number(double v) {
    return std::isfinite(v) ? fmt::format("{:.4g}", v) : "-";
}

// Rows: depth; columns: the four variants; cells from `cell`.
std::string variant_table(const std::vector<DepthStudyPoint>& points, DepthFamily family,
                          const std::string& heading,
                          const std::function<std::string(const DepthStudyPoint&)>& cell) {
    const auto variants = train::depth_variants();
    std::string s = fmt::format("{} ({})\n{:>6}", heading, train::to_string(family), "depth");
    for (const auto& v : variants) s += fmt::format(" {:>12}", v.name());
    s += "\n";
    std::map<int, std::vector<const DepthStudyPoint*>> rows;
    for (const auto& p : points)
        if (p.family == family) rows[p.depth].push_back(&p);
    for (const auto& [depth, ps] : rows) {
        s += fmt::format("{:>6}", depth);
        for (const auto& v : variants) {
            std::string c = "-";
            for (const auto* p : ps)
                if (p->variant.name() == v.name()) c = cell(*p);
            s += fmt::format(" {:>12}", c);
        }
        s += "\n";
    }
    return s + "\n";
}

const DepthStudyPoint* find(const std::vector<DepthStudyPoint>& points, DepthFamily family,
                            int depth, const std::string& variant) {
    for (const auto& p : points)
        if (p.family == family && p.depth == depth && p.variant.name() == variant) return &p;
    return nullptr;
}

std::string accuracy_cell(const DepthStudyPoint& p) {
    return p.diverged_step ? fmt::format("div@{}", p.diverged_step) : percent(p.test_accuracy);
}

// Sentences built from the points of one family: the deepest network's growth per layer and
// first/last ratio for each variant, and the accuracies at the shallowest and deepest.
std::string findings(const std::vector<DepthStudyPoint>& points, DepthFamily family,
                     int64_t steps) {
    int lo = 1 << 30, hi = 0;
    for (const auto& p : points)
        if (p.family == family) lo = std::min(lo, p.depth), hi = std::max(hi, p.depth);
    if (hi == 0) return "";
    const std::string fam = family == DepthFamily::MLP ? "MLP" : "CNN";
    std::string s = fmt::format("{} at depth {}, at initialisation:", fam, hi);
    for (const auto& v : train::depth_variants())
        if (const auto* p = find(points, family, hi, v.name())) {
            if (std::isfinite(p->growth))
                s += fmt::format(
                    " {} grows the gradient {}x per layer towards the input (first "
                    "layer / output layer {});",
                    v.name(), number(p->growth), number(p->first_over_last));
            else
                s += fmt::format(
                    " {}: a layer's gradient underflowed to 0 (first layer / "
                    "output layer {});",
                    v.name(), number(p->first_over_last));
        }
    s += fmt::format(" the mean-field value for ReLU with BatchNorm is {:.3f}.",
                     train::mean_field_relu_growth());
    s += fmt::format("\n{} test accuracy after {} steps, depth {} -> {}:", fam, steps, lo, hi);
    for (const auto& v : train::depth_variants()) {
        const auto *a = find(points, family, lo, v.name()), *b = find(points, family, hi, v.name());
        if (a && b)
            s += fmt::format(" {} {} -> {}{};", v.name(), accuracy_cell(*a), accuracy_cell(*b),
                             b->diverged_step ? " (diverged)" : "");
    }
    if (s.back() == ';') s.back() = '.';
    return s + "\n";
}

std::vector<std::pair<std::string, std::string>> charts(const std::vector<DepthStudyPoint>& points,
                                                        DepthFamily family) {
    const std::string fam = train::to_string(family);
    std::vector<Series> ratio, accuracy, profile;
    int deepest = 0;
    for (const auto& p : points)
        if (p.family == family) deepest = std::max(deepest, p.depth);
    size_t k = 0;
    for (const auto& v : train::depth_variants()) {
        Series r{v.name(), color_of(k), {}, {}}, a = r, pr = r;
        ++k;
        for (const auto& p : points) {
            if (p.family != family || p.variant.name() != v.name()) continue;
            if (std::isfinite(p.first_over_last) && p.first_over_last > 0)
                r.x.push_back(p.depth), r.y.push_back(p.first_over_last);
            a.x.push_back(p.depth), a.y.push_back(p.test_accuracy);
            if (p.depth == deepest)
                for (size_t l = 0; l < p.grad_norms.size(); ++l)
                    if (p.grad_norms[l] > 0 && std::isfinite(p.grad_norms[l]))
                        pr.x.push_back(double(l + 1)), pr.y.push_back(p.grad_norms[l]);
        }
        ratio.push_back(r), accuracy.push_back(a), profile.push_back(pr);
    }
    ChartAxes depth_axis;
    depth_axis.x_label = "depth (hidden layers)";
    depth_axis.log_x = true;
    depth_axis.log_y = true;
    ChartAxes acc_axis = depth_axis;
    acc_axis.log_y = false;
    acc_axis.percent = true;
    ChartAxes layer_axis;
    layer_axis.x_label = "weight layer (1: the input side)";
    layer_axis.log_y = true;
    return {
        {fam + "-first-over-last",
         svg_chart(fam + "-first-over-last",
                   fmt::format("{}: first layer's gradient over the output layer's, at "
                               "initialisation",
                               fam),
                   "ratio", ratio, depth_axis)},
        {fam + "-profile",
         svg_chart(
             fam + "-profile",
             fmt::format("{} of depth {}: ||dL/dW|| per layer at initialisation", fam, deepest),
             "||dL/dW||", profile, layer_axis)},
        {fam + "-accuracy", svg_chart(fam + "-accuracy", fmt::format("{}: test accuracy", fam),
                                      "test accuracy", accuracy, acc_axis)},
    };
}

std::string csv(const std::vector<DepthStudyPoint>& points) {
    std::string s =
        "family,depth,variant,growth_per_layer,first_over_last,test_accuracy,steps,diverged_step,"
        "seconds,grad_norms,spec\n";
    for (const auto& p : points) {
        std::string norms;
        for (double g : p.grad_norms) {
            if (!norms.empty()) norms += ' ';
            norms += fmt::format("{:.6g}", g);
        }
        s += fmt::format("{},{},{},{:.6g},{:.6g},{:.6g},{},{},{:.2f},{},\"{}\"\n",
                         train::to_string(p.family), p.depth, p.variant.name(), p.growth,
                         p.first_over_last, p.test_accuracy, p.steps, p.diverged_step, p.seconds,
                         norms, p.spec);
    }
    return s;
}

int run_depth(DepthFlags& f) {
    // The MLPs always come first, whichever order --families names them in.
    static const std::map<std::string, std::vector<DepthFamily>> accepted{
        {"mlp", {DepthFamily::MLP}},
        {"cnn", {DepthFamily::CNN}},
        {"mlp,cnn", {DepthFamily::MLP, DepthFamily::CNN}},
        {"cnn,mlp", {DepthFamily::MLP, DepthFamily::CNN}}};
    const auto families = accepted.find(f.families);
    if (families == accepted.end())
        throw UsageError(fmt::format("--families {}: expected mlp, cnn or mlp,cnn", f.families));
    train::DepthStudyConfig c;
    c.families = families->second;
    c.mlp_depths.assign(f.mlp_depths.begin(), f.mlp_depths.end());
    c.cnn_depths.assign(f.cnn_depths.begin(), f.cnn_depths.end());
    c.mlp_width = f.width;
    c.cnn_channels = f.channels;
    auto& b = c.base;
    b.batch = f.batch;
    b.lr = f.lr;
    b.momentum = f.momentum;
    b.max_steps = f.steps;
    b.epochs = 1000;  // the budget is --steps
    b.seed = f.study.seed;
    b.threads = f.study.threads;
    b.progress = false;

    RunFiles files;
    files.data_folder("--data", f.study.data_dir);
    const std::string dir = study_folder(f.study.out, "depth", files);
    files.check_and_lock();
    const Splits splits = load_splits(f.study.data_dir);
    // Every network must fit the images (and the memory) before the first is trained.
    for (const DepthFamily fam : c.families)
        for (const int d : fam == DepthFamily::MLP ? c.mlp_depths : c.cnn_depths) {
            train::TrainConfig t = b;
            t.model.kind = "arch";
            t.model.norm = train::Norm::batch();
            t.model.arch = train::depth_study_spec(fam, d, {true, true},
                                                   fam == DepthFamily::MLP ? f.width : f.channels);
            fit_model_to_data(t, splits, f.study.data_dir);
            b.model.image_rows = t.model.image_rows;
            b.model.image_cols = t.model.image_cols;
        }
    start_study_threads(f.study);

    const auto points =
        train::run_depth_study(c, splits.train, splits.test, [&](const DepthStudyPoint& p) {
            study_progress(f.study,
                           fmt::format("{} depth {} {}: growth {}, accuracy "
                                       "{} ({:.1f} s)",
                                       train::to_string(p.family), p.depth, p.variant.name(),
                                       number(p.growth), accuracy_cell(p), p.seconds));
        });
    throw_if_stop_requested("the depth study");

    StudyPage page;
    page.title =
        "Depth: gradients at initialisation and accuracy, with and without BatchNorm "
        "and skip connections";
    page.protocol = {
        fmt::format("Networks: MLPs of {} hidden layers of width {} (dense,norm,relu); CNNs of "
                    "{} 3x3 convolutions of {} channels (the first of stride 2, 28x28 -> "
                    "14x14), global average pooling, then a dense layer to the 10 classes.",
                    fmt::join(f.mlp_depths, ", "), f.width, fmt::join(f.cnn_depths, ", "),
                    f.channels),
        "Variants: plain (no skip, no normalisation), plain+BN (BatchNorm after every hidden "
        "layer), residual+BN (every hidden layer after the first in a pre-activation residual "
        "block, x + W relu(bn(x)), as He et al.'s Identity Mappings paper, with bn and relu "
        "after the last block), residual (the same skips, no normalisation: x + W relu(x)). "
        "PyTorch's default "
        "initialisation; the same initial weights in every shared layer.",
        fmt::format("At initialisation: ||dL/dW|| of every weight layer in training mode, mean "
                    "over {} batches of {} training images (the same for every network). "
                    "growth = the geometric mean of ||dL/dW_l|| / ||dL/dW_(l+1)|| over the "
                    "hidden layers after the first (1: the gradient keeps its size; above 1: "
                    "it grows towards the input). Yang et al. (ICLR 2019) derive sqrt(pi/(pi-1)) "
                    "= {:.3f} for a wide ReLU network with BatchNorm and a large batch.",
                    c.grad_batches, f.batch, train::mean_field_relu_growth()),
        fmt::format("Training budget: {} steps of SGD (lr {}, momentum {}) at batch {}, seed "
                    "{}, {} thread{}; test accuracy on the 10,000 test images in evaluation "
                    "mode. div@N: the loss or gradient stopped being finite at step N.",
                    f.steps, f.lr, f.momentum, f.batch, f.study.seed, f.study.threads,
                    f.study.threads == 1 ? "" : "s"),
        fmt::format("Data: {}.", f.study.data_dir),
        kFlushNote};
    for (const DepthFamily fam : c.families) {
        page.table += variant_table(points, fam, "growth of ||dL/dW|| per layer towards the input",
                                    [](const DepthStudyPoint& p) { return number(p.growth); });
        page.table +=
            variant_table(points, fam, "first layer's ||dL/dW|| / output layer's",
                          [](const DepthStudyPoint& p) { return number(p.first_over_last); });
        page.table += variant_table(
            points, fam, fmt::format("test accuracy after {} steps", f.steps), accuracy_cell);
        page.findings += findings(points, fam, f.steps);
        for (auto& ch : charts(points, fam)) page.charts.push_back(std::move(ch));
    }
    finish_study(page, csv(points), dir);
    return 0;
}

}  // namespace

void add_study_depth(CLI::App& study, Command& command) {
    auto f = std::make_shared<DepthFlags>();
    CLI::App* sub = study.add_subcommand(
        "depth",
        "Per-layer gradients at initialisation and accuracy after a fixed budget, for MLPs and "
        "CNNs of growing depth: plain, plain+BN, residual+BN, residual");
    add_study_flags(sub, f->study);
    add_int_list(sub, "--mlp-depths", f->mlp_depths, 3, 256, "Hidden layers of the MLPs")
        ->capture_default_str();
    add_int_list(sub, "--cnn-depths", f->cnn_depths, 3, 64, "Convolutions of the CNNs")
        ->capture_default_str();
    sub->add_option("--families", f->families, "mlp, cnn or mlp,cnn")->capture_default_str();
    add_int(sub, "--width", f->width, 1, 4096, "Width of the MLPs' hidden layers");
    add_int(sub, "--channels", f->channels, 1, 512, "Channels of the CNNs' convolutions");
    add_int(sub, "--steps", f->steps, 1, 1000000, "Training steps of every network");
    add_int(sub, "--batch", f->batch, 2, 4096, "Images per step");
    add_real(sub, "--lr", f->lr, {0, 100, true}, "SGD learning rate");
    add_real(sub, "--momentum", f->momentum, {0, 1, false, true}, "SGD momentum");
    sub->callback([f, &command] { command.run = [f] { return run_depth(*f); }; });
}

}  // namespace normgrad::cli
