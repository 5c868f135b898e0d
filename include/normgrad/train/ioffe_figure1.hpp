// Ioffe and Szegedy's Figure 1 (ICML 2015, section 4.1), reproduced on MNIST: a network of three
// fully connected sigmoid layers of 100 units, small Gaussian initial weights, batch 60, trained
// with and without BatchNorm; (a) test accuracy against the training steps, (b, c) the 15th, 50th
// and 85th percentiles of the input to one sigmoid of the last hidden layer, over the test
// images, as training goes on. Without BatchNorm that distribution drifts (the "internal
// covariate shift" the paper names); with it, it stays put.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "normgrad/idx.hpp"
#include "normgrad/module.hpp"
#include "normgrad/train/trainer.hpp"

namespace normgrad::train {

// The q-quantiles (q in [0, 1]) of `values`, linearly interpolated between the closest ranks,
// as numpy.percentile's default ("linear"): rank q * (n - 1) of the sorted values. Empty input:
// NaN for each.
std::vector<double> quantiles(std::vector<double> values, const std::vector<double>& qs);

// The values `unit` takes at the input of `layer` (a leaf module of `model`, found by its dotted
// path) over `data`, in evaluation mode and without the tape, read through a module hook (no
// layer is changed to be observed), together with the accuracy of the same pass.
struct UnitProbe {
    std::vector<double> values;  // one per image, in file order
    double accuracy = 0;
};
UnitProbe probe_unit_input(Module& model, const std::string& layer, int64_t unit,
                           const Dataset& data, InputScaling scaling);

// The spec of the network (`norm` stands for ModelSpec::norm: none or batch) and the path of
// its last sigmoid, the layer whose input is probed.
std::string ioffe_spec();
inline const char* ioffe_probed_layer() {
    return "act3";
}

struct IoffeConfig {
    TrainConfig base;        // optimizer, lr, momentum, seed, threads; model and batch are set
    int64_t steps = 50000;   // the paper's
    int64_t every = 500;     // measure (accuracy and percentiles) every N steps, and at step 0
    float init_std = 0.01f;  // "small random Gaussian values"
    int64_t unit = 0;        // which unit of the last hidden layer
};

struct IoffeCurve {
    Norm norm;
    std::vector<int64_t> steps;  // 0, every, 2 every, ...
    std::vector<double> accuracy;
    std::vector<std::array<double, 3>> percentiles;  // 15th, 50th, 85th
    int64_t diverged_step = 0;
    double seconds = 0;
};

// Without BatchNorm, then with it, from the same initial weights and data order. `on_measure`
// sees every measurement (curve so far). A stop request ends it: the curves so far are returned.
std::vector<IoffeCurve> run_ioffe_figure1(
    const IoffeConfig& c, const Dataset& train_set, const Dataset& test_set,
    const std::function<void(const IoffeCurve&)>& on_measure = {});

}  // namespace normgrad::train
