// Stop requests: Ctrl-C (SIGINT), SIGTERM (what `timeout`, schedulers and container runtimes send)
// and SIGHUP all ask the program to stop at the next safe point, whatever it is doing.
//
// A long task polls stop_requested() (or calls throw_if_stop_requested()) at points where
// stopping leaves nothing half-done: between files while loading, between training steps. What
// happens then is the task's decision: before the first training step nothing has been made, so
// the program exits with status 130 and writes nothing; after it, the trainer writes a checkpoint.
// A second signal while the first is pending ends the program at once (the default action):
// files are written atomically (files.hpp), so even that leaves no half-written file behind.
#pragma once

#include <stdexcept>
#include <string>

namespace normgrad {

// Thrown by throw_if_stop_requested(); the program exits with status 130.
class StopRequested : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Routes SIGINT, SIGTERM and SIGHUP to request_stop(). Call once, early in main().
void install_stop_handlers();

// Async-signal-safe: may be called from a signal handler.
void request_stop(int signal_number = 0) noexcept;
bool stop_requested() noexcept;
// The signal that asked for the stop ("SIGINT", "SIGTERM", "SIGHUP"; "a stop request" otherwise).
std::string stop_reason();
void clear_stop_request() noexcept;

// Throws StopRequested("interrupted by SIGTERM while <activity>") when a stop was requested.
void throw_if_stop_requested(const std::string& activity);

}  // namespace normgrad
