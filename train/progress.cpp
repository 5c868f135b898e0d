#include "normgrad/train/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace normgrad::train {

ProgressBar::ProgressBar(std::string label, int64_t total, int64_t every, bool enabled)
    : label_(std::move(label)),
      total_(total),
      every_(every > 0 ? every : std::max<int64_t>(1, total / 10)),
      bar_(enabled && isatty(fileno(stderr))),
      lines_(enabled && !isatty(fileno(stdout))),
      start_(std::chrono::steady_clock::now()) {}

std::string format_duration(double seconds) {
    const auto s = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
    if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    return fmt::format("{}:{:02}", s / 60, s % 60);
}

void ProgressBar::update(int64_t done, double loss, double images_per_second) {
    if (!bar_ && !lines_) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double left = done > 0 ? elapsed / double(done) * double(total_ - done) : 0.0;
    if (lines_ && (done % every_ == 0 || done == total_)) {
        fmt::print("{} step {}/{} ({:.0f}%) loss {:.4f}  {:.0f} img/s  {} left\n", label_, done,
                   total_, 100.0 * double(done) / double(std::max<int64_t>(total_, 1)), loss,
                   images_per_second, format_duration(left));
        std::fflush(stdout);
    }
    if (!bar_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int width = 30;
    const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
    fmt::print(stderr, "\r{} [{}{}] {}/{} loss {:.4f} {:.0f} img/s {} left\033[K", label_,
               std::string(size_t(filled), '#'), std::string(size_t(width - filled), '.'), done,
               total_, loss, images_per_second, format_duration(left));
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (bar_) fmt::print(stderr, "\r\033[K");  // clear the bar; the epoch summary follows
}

}  // namespace normgrad::train
