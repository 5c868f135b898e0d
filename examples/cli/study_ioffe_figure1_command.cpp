// normgrad study ioffe-figure1: Ioffe and Szegedy's Figure 1 protocol on MNIST
// (train/ioffe_figure1.hpp).
#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "flags.hpp"
#include "normgrad/files.hpp"
#include "normgrad/parallel.hpp"
#include "normgrad/stop.hpp"
#include "normgrad/train/ioffe_figure1.hpp"
#include "run_files.hpp"
#include "study_commands.hpp"
#include "study_page.hpp"
#include "svg_chart.hpp"
#include "training_flags.hpp"

namespace normgrad::cli {

namespace {

struct IoffeFlags {
    StudyFlags study;
    int64_t steps = 50000, every = 500, unit = 0;
    float init_std = 0.01f, lr = 0.5f, momentum = 0.f;
};

// The measurement at `step`, or the last one before it.
size_t at_step(const train::IoffeCurve& c, int64_t step) {
    size_t k = 0;
    while (k + 1 < c.steps.size() && c.steps[k + 1] <= step) ++k;
    return k;
}

int run_ioffe(IoffeFlags& f) {
    if (f.every > f.steps)
        throw UsageError(fmt::format("--every {} is beyond --steps {}", f.every, f.steps));
    RunFiles files;
    files.data_folder("--data", f.study.data_dir);
    const std::string dir = study_folder(f.study.out, "ioffe-figure1", files);
    files.check_and_lock();
    const Splits data = load_splits(f.study.data_dir);
    train::IoffeConfig c;
    c.steps = f.steps;
    c.every = f.every;
    c.unit = f.unit;
    c.init_std = f.init_std;
    c.base.lr = f.lr;
    c.base.momentum = f.momentum;
    c.base.seed = f.study.seed;
    c.base.threads = f.study.threads;
    c.base.model.kind = "arch";
    c.base.model.arch = train::ioffe_spec();
    c.base.model.norm = train::Norm::batch();
    fit_model_to_data(c.base, data, f.study.data_dir);
    start_study_threads(f.study);

    const auto curves =
        train::run_ioffe_figure1(c, data.train, data.test, [&](const train::IoffeCurve& cv) {
            const size_t k = cv.steps.size() - 1;
            if (cv.steps[k] % (10 * f.every) == 0)
                study_progress(f.study,
                               fmt::format("{} step {}: accuracy {}", train::describe(cv.norm),
                                           cv.steps[k], percent(cv.accuracy[k])));
        });
    throw_if_stop_requested("the Figure 1 study");

    StudyPage page;
    page.title =
        "Ioffe and Szegedy's Figure 1: test accuracy and a sigmoid's input distribution, "
        "with and without BatchNorm";
    page.protocol = {
        fmt::format("Network: 784 -> 3 fully connected hidden layers of 100 sigmoid units -> 10 "
                    "({}), the dense layers' weights from N(0, {}^2) and biases 0, BatchNorm "
                    "before each sigmoid in the BatchNorm run; the same initial weights in both.",
                    train::ioffe_spec(), f.init_std),
        fmt::format("Training: {} steps of SGD (lr {}, momentum {}) at batch 60 (the paper's "
                    "batch and step count), seed {}, {} thread{}.",
                    f.steps, f.lr, f.momentum, f.study.seed, f.study.threads,
                    f.study.threads == 1 ? "" : "s"),
        fmt::format("Every {} steps and at step 0: the test accuracy (evaluation mode, the 10,000 "
                    "test images) and the 15th, 50th and 85th percentiles, over the test images, "
                    "of the input to sigmoid unit {} of the last hidden layer ({}), read through "
                    "a module hook.",
                    f.every, f.unit, train::ioffe_probed_layer()),
        "The paper gives neither the learning rate nor the weights' scale; these are normgrad's "
        "choices (--lr, --init-std), stated here. Its figure shows the same two things: the "
        "BatchNorm network trains faster and higher, and its sigmoid input keeps a stable "
        "distribution while the other drifts.",
        kFlushNote};

    std::vector<int64_t> shown{0, 100, 500, 1000, 2000, 5000, 10000, 20000, 50000};
    page.table = fmt::format("{:>7} {:>14} {:>14}   {:>30} {:>30}\n", "step", "acc. no BN",
                             "acc. BN", "p15 / p50 / p85, no BN", "p15 / p50 / p85, BN");
    for (const int64_t s : shown) {
        if (s > f.steps || s % f.every != 0) continue;
        std::string row = fmt::format("{:>7}", s);
        std::string acc, pct;
        for (const auto& cv : curves) {
            const size_t k = at_step(cv, s);
            acc += fmt::format(" {:>14}", cv.steps[k] == s ? percent(cv.accuracy[k]) : "-");
            const auto& p = cv.percentiles[k];
            pct += fmt::format(
                " {:>30}",
                cv.steps[k] == s ? fmt::format("{:.3f} / {:.3f} / {:.3f}", p[0], p[1], p[2]) : "-");
        }
        page.table += row + acc + "  " + pct + "\n";
    }
    std::string csv = "norm,step,test_accuracy,p15,p50,p85\n";
    for (const auto& cv : curves)
        for (size_t k = 0; k < cv.steps.size(); ++k)
            csv += fmt::format("{},{},{:.6g},{:.6g},{:.6g},{:.6g}\n", train::to_string(cv.norm),
                               cv.steps[k], cv.accuracy[k], cv.percentiles[k][0],
                               cv.percentiles[k][1], cv.percentiles[k][2]);

    // Findings: accuracy early and at the end; how far the median moved and how the spread
    // changed, from the first measurement after training starts (step `every`) to the last.
    if (curves.size() == 2) {
        const auto &off = curves[0], &on = curves[1];
        const int64_t early = std::min<int64_t>(1000, f.steps);
        const size_t ko = at_step(off, early), kb = at_step(on, early);
        page.findings = fmt::format(
            "Test accuracy at step {}: {} without BatchNorm, {} with it; at step {}: {} and {}.\n",
            off.steps[ko], percent(off.accuracy[ko]), percent(on.accuracy[kb]), off.steps.back(),
            percent(off.accuracy.back()), percent(on.accuracy.back()));
        // How much the median drifts while training: its range over the measurements after
        // step 0 (Ioffe and Szegedy's point: without BatchNorm the distribution moves).
        for (const auto* cv : {&off, &on}) {
            double lo = INFINITY, hi = -INFINITY, spread_lo = INFINITY, spread_hi = -INFINITY;
            for (size_t k = 1; k < cv->steps.size(); ++k) {
                lo = std::min(lo, cv->percentiles[k][1]), hi = std::max(hi, cv->percentiles[k][1]);
                const double sp = cv->percentiles[k][2] - cv->percentiles[k][0];
                spread_lo = std::min(spread_lo, sp), spread_hi = std::max(spread_hi, sp);
            }
            if (cv->steps.size() < 2) continue;
            page.findings += fmt::format(
                "{}: from step {} to step {} the median of the sigmoid's input ranged from "
                "{:.3f} to {:.3f} (a drift of {:.3f}), the 15th-85th percentile spread from "
                "{:.3g} to {:.3g}.\n",
                train::describe(cv->norm), cv->steps[1], cv->steps.back(), lo, hi, hi - lo,
                spread_lo, spread_hi);
        }
    }
    ChartAxes step_axis;
    step_axis.x_from_one = false;
    std::vector<Series> acc;
    for (size_t k = 0; k < curves.size(); ++k) {
        Series s{curves[k].norm == train::Norm::none() ? "without BatchNorm" : "with BatchNorm",
                 color_of(k),
                 {},
                 {}};
        for (size_t i = 0; i < curves[k].steps.size(); ++i)
            s.x.push_back(double(curves[k].steps[i])), s.y.push_back(curves[k].accuracy[i]);
        acc.push_back(s);
    }
    ChartAxes acc_axis = step_axis;
    acc_axis.percent = true;
    page.charts.push_back(
        {"accuracy", svg_chart("accuracy", "(a) Test accuracy", "test accuracy", acc, acc_axis)});
    for (size_t k = 0; k < curves.size(); ++k) {
        std::vector<Series> pct;
        const char* names[3] = {"15th percentile", "50th percentile", "85th percentile"};
        for (int q = 0; q < 3; ++q) {
            Series s{names[q], color_of(size_t(q)), {}, {}};
            for (size_t i = 0; i < curves[k].steps.size(); ++i)
                s.x.push_back(double(curves[k].steps[i])),
                    s.y.push_back(curves[k].percentiles[i][size_t(q)]);
            pct.push_back(s);
        }
        const bool bn = curves[k].norm == train::Norm::batch();
        const std::string id = bn ? "percentiles-bn" : "percentiles-none";
        page.charts.push_back(
            {id, svg_chart(id,
                           fmt::format("({}) Input to sigmoid unit {} of the last hidden layer, {}",
                                       bn ? "c" : "b", f.unit,
                                       bn ? "with BatchNorm" : "without BatchNorm"),
                           "sigmoid input", pct, step_axis)});
    }
    finish_study(page, csv, dir);
    return 0;
}

}  // namespace

void add_study_ioffe_figure1(CLI::App& study, Command& command) {
    auto f = std::make_shared<IoffeFlags>();
    CLI::App* sub = study.add_subcommand(
        "ioffe-figure1",
        "Ioffe and Szegedy's Figure 1: three sigmoid layers of 100, batch 60, test accuracy and "
        "the 15th/50th/85th percentiles of a sigmoid's input, with and without BatchNorm");
    add_study_flags(sub, f->study);
    add_int(sub, "--steps", f->steps, 1, 10000000, "Training steps (the paper: 50000)");
    add_int(sub, "--every", f->every, 1, 10000000, "Measure every N steps");
    add_int(sub, "--unit", f->unit, 0, 99, "The probed unit of the last hidden layer");
    add_real(sub, "--init-std", f->init_std, {0, 10, true}, "Std of the Gaussian initial weights");
    add_real(sub, "--lr", f->lr, {0, 100, true}, "SGD learning rate");
    add_real(sub, "--momentum", f->momentum, {0, 1, false, true}, "SGD momentum");
    sub->callback([f, &command] { command.run = [f] { return run_ioffe(*f); }; });
}

}  // namespace normgrad::cli
