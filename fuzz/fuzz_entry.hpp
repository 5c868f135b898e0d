// Entry functions of the libFuzzer targets in fuzz/, shared with tests/test_fuzz_regressions.cpp
// so every saved input is replayed in the ordinary test suite.
//
// Each function feeds one input to the code under test. It returns normally when the input is
// accepted or rejected with the documented error (DataError, CheckpointError, a usage error's
// exit status and message, ArchError); it throws FuzzInvariantError when an accepted result or
// an error message breaks a documented promise; any other exception escapes, and memory errors are
// left to the sanitizers. Under libFuzzer an escaping exception aborts the process, which saves the
// input as a crash.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>

namespace normgrad::fuzz {

class FuzzInvariantError : public std::logic_error {
  public:
    using std::logic_error::logic_error;
};

enum class Outcome { accepted, rejected };

// parse_idx on raw or gzip content (gzip is recognised by its magic bytes).
Outcome fuzz_idx(std::span<const uint8_t> input);

// parse_checkpoint on a safetensors file's content.
Outcome fuzz_checkpoint(std::span<const uint8_t> input);

// The normgrad command line (cli::parse_command_line), parse only: the input is split into
// arguments at NUL bytes, or at newlines when it holds no NUL byte; "normgrad" is prepended as
// argv[0].
Outcome fuzz_cli(std::span<const uint8_t> input);

// An --arch spec: parse_arch, then the walk that plans the model for 28x28 images
// (image_size_problem, estimate_training_memory); the model is never built.
Outcome fuzz_arch(std::span<const uint8_t> input);

}  // namespace normgrad::fuzz
