// normgrad study batch-size: BatchNorm against GroupNorm and LayerNorm as the batch shrinks
// (the curve of Wu and He's Group Normalization paper), on MNIST and Fashion-MNIST.
//
// Protocol: the same model trained for the same number of epochs at every batch size, the
// learning rate scaled linearly with the batch (lr = --lr * B / 128, as Wu and He do), so every
// run sees the same images the same number of times; test error in evaluation mode (BatchNorm
// with its running statistics, the other normalisations need none).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "flags.hpp"
#include "normgrad/files.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/study_point.hpp"
#include "run_files.hpp"
#include "study_commands.hpp"
#include "study_page.hpp"
#include "svg_chart.hpp"
#include "training_flags.hpp"

namespace normgrad::cli {

namespace {

struct BatchSizeFlags {
    StudyFlags study;
    std::vector<std::string> datasets{"data/mnist", "/usr/share/datasets/fashion-mnist"};
    std::vector<int64_t> batches{2, 4, 8, 16, 32, 64, 128};
    std::vector<std::string> norms{"batch", "group", "layer"};
    std::string model = "mlp";
    int64_t hidden = 256;
    int depth = 2;
    int epochs = 1;
    float lr = 0.1f, momentum = 0.9f;
};

struct BatchSizePoint {
    size_t dataset;
    int64_t batch;
    train::Norm norm;
    train::PointResult r;
};

std::string dataset_name(const std::string& dir) {
    std::string name = std::filesystem::path(dir).filename().string();
    if (name.empty()) name = std::filesystem::path(dir).parent_path().filename().string();
    return name;
}

std::string error_cell(const BatchSizePoint& p) {
    return p.r.diverged_step ? fmt::format("div@{}", p.r.diverged_step)
                             : percent(1.0 - p.r.test_accuracy);
}

const BatchSizePoint* find(const std::vector<BatchSizePoint>& ps, size_t d, int64_t b,
                           const train::Norm& n) {
    for (const auto& p : ps)
        if (p.dataset == d && p.batch == b && p.norm == n) return &p;
    return nullptr;
}

int run_batch_size(BatchSizeFlags& f) {
    const std::vector<train::Norm> norms = parse_norms("--norms", f.norms);
    if (!std::is_sorted(f.batches.begin(), f.batches.end()) ||
        std::adjacent_find(f.batches.begin(), f.batches.end()) != f.batches.end())
        throw UsageError(fmt::format("--batches {}: expected batch sizes in increasing order",
                                     fmt::join(f.batches, ",")));
    if (f.model != "mlp" && f.model != "cnn")
        throw UsageError(fmt::format("--model {}: expected mlp or cnn", f.model));
    RunFiles files;
    for (const std::string& d : f.datasets) files.data_folder("--datasets", d);
    const std::string dir = study_folder(f.study.out, "batch-size", files);
    files.check_and_lock();
    std::vector<Splits> data;
    train::TrainConfig base;
    base.model.kind = f.model;
    base.model.hidden = f.hidden;
    base.model.depth = f.depth;
    base.epochs = f.epochs;
    base.momentum = f.momentum;
    base.seed = f.study.seed;
    base.threads = f.study.threads;
    base.progress = false;
    for (const std::string& d : f.datasets) {
        data.push_back(load_splits(d));
        for (const auto& n : norms) {
            train::TrainConfig t = base;
            t.model.norm = n;
            t.batch = f.batches.back();
            fit_model_to_data(t, data.back(), d);
        }
    }
    start_study_threads(f.study);

    std::vector<BatchSizePoint> points;
    for (size_t d = 0; d < data.size(); ++d)
        for (const int64_t b : f.batches)
            for (const auto& n : norms) {
                if (stop_requested()) break;
                train::TrainConfig t = base;
                t.model.norm = n;
                t.model.image_rows = data[d].train.rows;
                t.model.image_cols = data[d].train.cols;
                t.batch = b;
                t.lr = float(f.lr * double(b) / 128.0);
                points.push_back({d, b, n, train::train_point(t, data[d].train, data[d].test)});
                study_progress(f.study,
                               fmt::format("{} batch {} {}: test error {} ({:.1f} s)",
                                           dataset_name(f.datasets[d]), b, train::describe(n),
                                           error_cell(points.back()), points.back().r.seconds));
            }
    throw_if_stop_requested("the batch-size study");

    StudyPage page;
    page.title = "Batch size: BatchNorm against GroupNorm and LayerNorm";
    page.protocol = {
        fmt::format("Model: {}, ReLU, PyTorch's default initialisation; the normalisations: {}.",
                    f.model == "mlp" ? fmt::format("the MLP with {} hidden layers of {} "
                                                   "(dense,norm,relu)",
                                                   f.depth, f.hidden)
                                     : "the cnn preset",
                    fmt::join(f.norms, ", ")),
        fmt::format("Every run: {} epoch{} of SGD (momentum {}) at batch B with the learning rate "
                    "scaled linearly, lr = {} * B / 128 (Wu and He's protocol), so every run sees "
                    "the same images as often; seed {}, {} thread{}.",
                    f.epochs, f.epochs == 1 ? "" : "s", f.momentum, f.lr, f.study.seed,
                    f.study.threads, f.study.threads == 1 ? "" : "s"),
        "Test error = 100% - accuracy on the whole test set in evaluation mode: BatchNorm uses "
        "its running statistics, GroupNorm and LayerNorm normalise each image by itself. "
        "div@N: the loss stopped being finite at step N.",
        fmt::format("Data: {}.", fmt::join(f.datasets, ", ")), kFlushNote};
    std::string csv =
        "dataset,batch,norm,lr,test_accuracy,test_error,steps,diverged_step,"
        "last_loss,seconds\n";
    for (const auto& p : points)
        csv +=
            fmt::format("{},{},{},{:.6g},{:.6g},{:.6g},{},{},{:.6g},{:.2f}\n",
                        dataset_name(f.datasets[p.dataset]), p.batch, train::to_string(p.norm),
                        f.lr * double(p.batch) / 128.0, p.r.test_accuracy, 1.0 - p.r.test_accuracy,
                        p.r.steps, p.r.diverged_step, p.r.last_loss, p.r.seconds);
    for (size_t d = 0; d < data.size(); ++d) {
        const std::string name = dataset_name(f.datasets[d]);
        page.table += fmt::format("test error on {} ({} epoch{})\n{:>6}", name, f.epochs,
                                  f.epochs == 1 ? "" : "s", "batch");
        for (const auto& n : norms) page.table += fmt::format(" {:>22}", train::describe(n));
        page.table += "\n";
        for (const int64_t b : f.batches) {
            page.table += fmt::format("{:>6}", b);
            for (const auto& n : norms) {
                const BatchSizePoint* p = find(points, d, b, n);
                page.table += fmt::format(" {:>22}", p ? error_cell(*p) : "-");
            }
            page.table += "\n";
        }
        page.table += "\n";
        // Findings: each normalisation from the largest batch to the smallest.
        const int64_t big = f.batches.back(), small = f.batches.front();
        std::string s = fmt::format("{}: test error from batch {} to batch {}:", name, big, small);
        for (const auto& n : norms) {
            const BatchSizePoint *a = find(points, d, big, n), *b = find(points, d, small, n);
            if (a && b)
                s += fmt::format(" {} {} -> {};", train::describe(n), error_cell(*a),
                                 error_cell(*b));
        }
        // The smallest batch from which BatchNorm is within 0.5 points of its best.
        const train::Norm bn = train::Norm::batch();
        double best = 1;
        for (const int64_t b : f.batches)
            if (const BatchSizePoint* p = find(points, d, b, bn); p && !p->r.diverged_step)
                best = std::min(best, 1.0 - p->r.test_accuracy);
        if (find(points, d, big, bn)) {
            int64_t from = 0;
            for (auto it = f.batches.rbegin(); it != f.batches.rend(); ++it) {
                const BatchSizePoint* p = find(points, d, *it, bn);
                if (!p || p->r.diverged_step || 1.0 - p->r.test_accuracy > best + 0.005) break;
                from = *it;
            }
            if (from)
                s += fmt::format(
                    " BatchNorm stays within 0.5 points of its best ({}) from "
                    "batch {} up.",
                    percent(best), from);
        }
        if (s.back() == ';') s.back() = '.';
        page.findings += s + "\n";

        std::vector<Series> series;
        for (size_t k = 0; k < norms.size(); ++k) {
            Series sr{train::describe(norms[k]), color_of(k), {}, {}};
            for (const int64_t b : f.batches)
                if (const BatchSizePoint* p = find(points, d, b, norms[k]);
                    p && !p->r.diverged_step)
                    sr.x.push_back(double(b)), sr.y.push_back(1.0 - p->r.test_accuracy);
            series.push_back(sr);
        }
        ChartAxes axes;
        axes.x_label = "batch size";
        axes.log_x = true;
        axes.log_y = true;
        axes.x_from_one = false;
        page.charts.push_back(
            {"error-" + name,
             svg_chart("error-" + name,
                       fmt::format("{}: test error against the batch size ({} epoch{})", name,
                                   f.epochs, f.epochs == 1 ? "" : "s"),
                       "test error", series, axes)});
    }
    finish_study(page, csv, dir);
    return 0;
}

}  // namespace

void add_study_batch_size(CLI::App& study, Command& command) {
    auto f = std::make_shared<BatchSizeFlags>();
    CLI::App* sub = study.add_subcommand(
        "batch-size",
        "Test error against the batch size (2 to 128) for BatchNorm, GroupNorm and LayerNorm, "
        "on MNIST and Fashion-MNIST, the learning rate scaled with the batch");
    add_study_flags(sub, f->study, false);
    sub->add_option("--datasets", f->datasets, "MNIST-format folders, one study each")
        ->delimiter(',')
        ->capture_default_str();
    add_int_list(sub, "--batches", f->batches, 2, 4096, "Batch sizes, in increasing order")
        ->capture_default_str();
    sub->add_option("--norms", f->norms, "The normalisations: none, batch, layer, group[:G], rms")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_option("--model", f->model, "mlp or cnn")->capture_default_str();
    add_int(sub, "--hidden", f->hidden, 1, 4096, "mlp: width of the hidden layers");
    add_int(sub, "--depth", f->depth, 1, 64, "mlp: number of hidden layers");
    add_int(sub, "--epochs", f->epochs, 1, 1000, "Epochs of every run");
    add_real(sub, "--lr", f->lr, {0, 100, true},
             "SGD learning rate at batch 128 (scaled by B/128)");
    add_real(sub, "--momentum", f->momentum, {0, 1, false, true}, "SGD momentum");
    sub->callback([f, &command] { command.run = [f] { return run_batch_size(*f); }; });
}

}  // namespace normgrad::cli
