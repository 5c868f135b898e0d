// A one-line progress bar on stderr, redrawn at most ten times a second (only on a terminal).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace normgrad::train {

class ProgressBar {
  public:
    ProgressBar(std::string label, int64_t total, bool enabled);
    void update(int64_t done, double loss, double images_per_second);
    void finish();

  private:
    std::string label_;
    int64_t total_;
    bool enabled_;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace normgrad::train
