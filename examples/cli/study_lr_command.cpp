// normgrad study lr: the largest learning rate that still trains, without normalisation and with
// each one. Protocol: the same model from the same initial weights, trained for the same number
// of epochs at learning rates doubling from --lr-min to --lr-max; a learning rate "trains" when
// the run stays finite and reaches --threshold test accuracy.
#include <fmt/format.h>

#include <cmath>
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

struct LrFlags {
    StudyFlags study;
    std::vector<std::string> norms{"none", "batch", "layer", "group"};
    double lr_min = 0.01, lr_max = 10.24, threshold = 0.9;
    int64_t hidden = 256, batch = 128;
    int depth = 2, epochs = 1;
    float momentum = 0.9f;
};

struct LrPoint {
    train::Norm norm;
    double lr;
    train::PointResult r;
    bool trains(double threshold) const { return !r.diverged_step && r.test_accuracy >= threshold; }
};

std::string cell(const LrPoint& p) {
    return p.r.diverged_step ? fmt::format("div@{}", p.r.diverged_step)
                             : percent(p.r.test_accuracy);
}

// The learning rates of the grid: lr_min doubled while it stays within lr_max (with a margin
// for rounding), printed with 4 significant digits.
std::vector<double> grid(double lo, double hi) {
    std::vector<double> lrs;
    for (double lr = lo; lr <= hi * (1 + 1e-9); lr *= 2) lrs.push_back(lr);
    return lrs;
}

int run_lr(LrFlags& f) {
    const std::vector<train::Norm> norms = parse_norms("--norms", f.norms);
    if (f.lr_max < f.lr_min)
        throw UsageError(fmt::format("--lr-max {} is below --lr-min {}", f.lr_max, f.lr_min));
    const std::vector<double> lrs = grid(f.lr_min, f.lr_max);
    RunFiles files;
    files.data_folder("--data", f.study.data_dir);
    const std::string dir = study_folder(f.study.out, "lr", files);
    files.check_and_lock();
    const Splits data = load_splits(f.study.data_dir);
    train::TrainConfig base;
    base.model.kind = "mlp";
    base.model.hidden = f.hidden;
    base.model.depth = f.depth;
    base.batch = f.batch;
    base.epochs = f.epochs;
    base.momentum = f.momentum;
    base.seed = f.study.seed;
    base.threads = f.study.threads;
    base.progress = false;
    for (const auto& n : norms) {
        base.model.norm = n;
        fit_model_to_data(base, data, f.study.data_dir);
    }
    start_study_threads(f.study);

    std::vector<LrPoint> points;
    for (const auto& n : norms)
        for (const double lr : lrs) {
            if (stop_requested()) break;
            train::TrainConfig t = base;
            t.model.norm = n;
            t.lr = float(lr);
            points.push_back({n, lr, train::train_point(t, data.train, data.test)});
            study_progress(f.study, fmt::format("{} lr {:.4g}: {} ({:.1f} s)", train::describe(n),
                                                lr, cell(points.back()), points.back().r.seconds));
        }
    throw_if_stop_requested("the learning-rate study");

    StudyPage page;
    page.title = "Learning rate: the largest that still trains, with and without normalisation";
    page.protocol = {
        fmt::format("Model: the MLP with {} hidden layers of {} (dense,norm,relu), PyTorch's "
                    "default initialisation, the same initial weights for every run; the "
                    "normalisations: {}.",
                    f.depth, f.hidden, fmt::join(f.norms, ", ")),
        fmt::format("Every run: {} epoch{} of SGD (momentum {}) at batch {}, the learning rate "
                    "constant, from {:.4g} doubling to {:.4g}; seed {}, {} thread{}.",
                    f.epochs, f.epochs == 1 ? "" : "s", f.momentum, f.batch, lrs.front(),
                    lrs.back(), f.study.seed, f.study.threads, f.study.threads == 1 ? "" : "s"),
        fmt::format("A learning rate trains when the loss stays finite and the test accuracy "
                    "(evaluation mode, the whole test set) reaches {}. div@N: the loss or the "
                    "gradient norm stopped being finite at step N.",
                    percent(f.threshold)),
        fmt::format("Data: {}.", f.study.data_dir), kFlushNote};
    page.table = fmt::format("test accuracy after {} epoch{}\n{:>8}", f.epochs,
                             f.epochs == 1 ? "" : "s", "lr");
    for (const auto& n : norms) page.table += fmt::format(" {:>22}", train::describe(n));
    page.table += "\n";
    for (const double lr : lrs) {
        page.table += fmt::format("{:>8.4g}", lr);
        for (const auto& n : norms) {
            std::string c = "-";
            for (const auto& p : points)
                if (p.norm == n && p.lr == lr) c = cell(p);
            page.table += fmt::format(" {:>22}", c);
        }
        page.table += "\n";
    }
    page.table +=
        fmt::format("\nlargest learning rate that trains (>= {})\n", percent(f.threshold));
    std::string csv = "norm,lr,test_accuracy,trains,steps,diverged_step,last_loss,seconds\n";
    for (const auto& p : points)
        csv += fmt::format("{},{:.6g},{:.6g},{},{},{},{:.6g},{:.2f}\n", train::to_string(p.norm),
                           p.lr, p.r.test_accuracy, p.trains(f.threshold) ? 1 : 0, p.r.steps,
                           p.r.diverged_step, p.r.last_loss, p.r.seconds);
    std::vector<Series> series;
    std::string findings = "Largest learning rate that trains:";
    double none_lr = 0;
    for (size_t k = 0; k < norms.size(); ++k) {
        double largest = 0, acc = 0;
        Series s{train::describe(norms[k]), color_of(k), {}, {}};
        for (const auto& p : points) {
            if (!(p.norm == norms[k])) continue;
            if (p.trains(f.threshold) && p.lr > largest) largest = p.lr, acc = p.r.test_accuracy;
            s.x.push_back(p.lr);
            s.y.push_back(p.r.diverged_step ? 0.0 : p.r.test_accuracy);
        }
        series.push_back(s);
        if (norms[k] == train::Norm::none()) none_lr = largest;
        const std::string v =
            largest > 0 ? fmt::format("{:.4g} ({})", largest, percent(acc)) : "none of the grid";
        page.table += fmt::format("{:>24}: {}\n", train::describe(norms[k]), v);
        findings += fmt::format(" {} {}{};", train::describe(norms[k]), v,
                                none_lr > 0 && largest > 0 && !(norms[k] == train::Norm::none())
                                    ? fmt::format(", {:.3g}x the unnormalised", largest / none_lr)
                                    : "");
    }
    findings.back() = '.';
    page.findings = findings;
    ChartAxes axes;
    axes.x_label = "learning rate";
    axes.log_x = true;
    axes.percent = true;
    axes.x_from_one = false;
    page.charts.push_back({"accuracy", svg_chart("accuracy",
                                                 "Test accuracy against the learning rate "
                                                 "(a diverged run at 0)",
                                                 "test accuracy", series, axes)});
    finish_study(page, csv, dir);
    return 0;
}

}  // namespace

void add_study_lr(CLI::App& study, Command& command) {
    auto f = std::make_shared<LrFlags>();
    CLI::App* sub = study.add_subcommand(
        "lr",
        "The largest learning rate that still trains, without normalisation and with "
        "BatchNorm, LayerNorm and GroupNorm");
    add_study_flags(sub, f->study);
    sub->add_option("--norms", f->norms, "The normalisations: none, batch, layer, group[:G], rms")
        ->delimiter(',')
        ->capture_default_str();
    add_real(sub, "--lr-min", f->lr_min, {0, 1000, true}, "The smallest learning rate");
    add_real(sub, "--lr-max", f->lr_max, {0, 1000, true},
             "The largest learning rate (the grid doubles from --lr-min up to it)");
    add_real(sub, "--threshold", f->threshold, {0, 1},
             "Test accuracy (a fraction) a run must reach to count as training");
    add_int(sub, "--hidden", f->hidden, 1, 4096, "Width of the hidden layers");
    add_int(sub, "--depth", f->depth, 1, 64, "Number of hidden layers");
    add_int(sub, "--batch", f->batch, 1, 4096, "Images per step");
    add_int(sub, "--epochs", f->epochs, 1, 1000, "Epochs of every run");
    add_real(sub, "--momentum", f->momentum, {0, 1, false, true}, "SGD momentum");
    sub->callback([f, &command] { command.run = [f] { return run_lr(*f); }; });
}

}  // namespace normgrad::cli
