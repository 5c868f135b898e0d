#include "normgrad/stop.hpp"

#include <fmt/format.h>

#include <atomic>
#include <csignal>

namespace normgrad {

namespace {

std::atomic<int> requested{0};  // 0: none; else the signal number (-1: requested by a call)
static_assert(std::atomic<int>::is_always_lock_free, "used from a signal handler");

void on_signal(int sig) {
    if (requested.load() != 0) {
        // A second request: the user insists. Take the default action (termination).
        std::signal(sig, SIG_DFL);
        std::raise(sig);
        return;
    }
    request_stop(sig);
}

}  // namespace

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // a read or write in progress continues; the flag is polled
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

void request_stop(int signal_number) noexcept {
    requested.store(signal_number != 0 ? signal_number : -1);
}

bool stop_requested() noexcept {
    return requested.load() != 0;
}

std::string stop_reason() {
    switch (requested.load()) {
        case SIGINT:
            return "SIGINT";
        case SIGTERM:
            return "SIGTERM";
        case SIGHUP:
            return "SIGHUP";
        default:
            return "a stop request";
    }
}

void clear_stop_request() noexcept {
    requested.store(0);
}

void throw_if_stop_requested(const std::string& activity) {
    if (stop_requested())
        throw StopRequested(fmt::format("interrupted by {} while {}", stop_reason(), activity));
}

}  // namespace normgrad
