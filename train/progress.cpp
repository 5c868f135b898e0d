#include "normgrad/train/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace normgrad::train {

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && isatty(fileno(stderr))) {}

void ProgressBar::update(int64_t done, double loss, double images_per_second) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int width = 30;
    const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
    fmt::print(stderr, "\r{} [{}{}] {}/{} loss {:.4f} {:.0f} img/s", label_,
               std::string(size_t(filled), '#'), std::string(size_t(width - filled), '.'), done,
               total_, loss, images_per_second);
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (enabled_) fmt::print(stderr, "\r\033[K");  // clear the bar; the epoch summary follows
}

}  // namespace normgrad::train
