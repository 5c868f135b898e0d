// The tape: reverse-mode automatic differentiation in the simplest form that works.
//
// Every differentiable operation, as it runs, appends one record to the tape: its name, its
// inputs, its output and a backward function (a closure that also holds the values the operation
// saved for backward). backward(loss) seeds d(loss)/d(loss) = 1 and runs the backward functions in
// reverse order of execution. Because the tape is in execution order, reversing it visits every
// operation after all operations that consumed its output, so each output's gradient is complete
// by the time its own backward function reads it. Gradients are *added* into inputs, so a tensor
// used twice receives the sum of both contributions.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "normgrad/tensor.hpp"

namespace normgrad::autograd {

using BackwardFn = std::function<void()>;

struct TapeRecord {
    const char* op;              // "linear", "batch_norm", ...
    std::string scope;           // the module that ran it ("fc1"), empty outside modules
    std::vector<Tensor> inputs;  // kept alive until the tape is released
    Tensor output;
    BackwardFn backward;
    // Set by request_output_grad_squares(): someone (the gradient statistics) wants the sum of
    // squares of this output's gradient. An operation whose backward reads that gradient anyway
    // can add it up on the way (output_grad_squares_request()) and leaves it here; otherwise it
    // stays NaN and the caller takes its own pass over the gradient.
    bool wants_output_grad_squares = false;
    double output_grad_squares = std::numeric_limits<double>::quiet_NaN();
};

// True while gradients are being recorded in this thread (the default).
bool grad_enabled();

// Inside this scope nothing is recorded: evaluation, optimizer updates.
class NoGradGuard {
  public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

  private:
    bool previous_;
};

// Names the module whose operations are being recorded (for anomaly messages and statistics).
class ScopeGuard {
  public:
    explicit ScopeGuard(std::string name);
    ~ScopeGuard();
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;

  private:
    std::string previous_;
};
const std::string& current_scope();

// Should an operation with these inputs record itself? (grad mode on and some input needs grad)
bool needs_grad(std::initializer_list<const Tensor*> inputs);

// Appends a record; marks `output` as requiring grad and produced by this tape.
void record(const char* op, std::vector<Tensor> inputs, const Tensor& output, BackwardFn fn);

// Runs the tape backwards from `loss` (a one-element tensor), then releases the tape.
// Throws std::logic_error when the tape holding `loss` was already released.
void backward(const Tensor& loss);

// Drops all records without running them (e.g. after a forward pass that will not be used).
void release_tape();
size_t tape_size();

// Called after each operation's forward and after each backward step when set (anomaly
// detection and the gradient statistics hook in here); null by default, so costs nothing. A
// backward hook sees the record after its backward ran, while the gradient of its output is
// still there. Each setter returns the hook it replaces, so that a user can chain to it and
// put it back when done (users nest: the last to install is the first to restore).
using ForwardHook = std::function<void(const TapeRecord&)>;
using BackwardHook = std::function<void(const TapeRecord&)>;
ForwardHook set_forward_hook(ForwardHook hook);
BackwardHook set_backward_hook(BackwardHook hook);

// Measuring output gradients where they are read (for train::GradStats). A separate pass over a
// large gradient after the backward reads it from memory a second time (tens of MB per step in
// the CNN); the operation's own backward has each piece in cache already.
// - request_output_grad_squares(y): y's producing record (on the current tape) gets
//   wants_output_grad_squares; nothing happens for a leaf or a tensor from another tape.
// - output_grad_squares_request(): inside a backward function, where to store the sum of squares
//   of the output's gradient, or nullptr when nobody asked (the usual case). An operation that
//   stores it must add the same values in an order that does not depend on the thread count.
void request_output_grad_squares(const Tensor& output);
double* output_grad_squares_request();

}  // namespace normgrad::autograd
