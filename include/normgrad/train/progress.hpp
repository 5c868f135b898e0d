// Progress of an epoch. On a terminal: a one-line bar on stderr, redrawn at most ten times a
// second, with the loss, the speed and the time left. When standard output is not a terminal
// (a log file, a pipe, a batch job): a line on stdout every `every` steps instead, as PyTorch's
// MNIST example prints, so that a job's output shows how it goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace normgrad::train {

class ProgressBar {
  public:
    // `label`: "epoch 1/3", or "BatchNorm off, epoch 1/3"; `total`: the epoch's steps.
    ProgressBar(std::string label, int64_t total, int64_t every, bool enabled);
    // `done` steps of `total` so far, the mean loss and the images per second.
    void update(int64_t done, double loss, double images_per_second);
    void finish();

  private:
    std::string label_;
    int64_t total_, every_;
    bool bar_, lines_;
    std::chrono::steady_clock::time_point start_, last_draw_{};
};

// "1:05" or "1:02:05".
std::string format_duration(double seconds);

}  // namespace normgrad::train
