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
#include <string>
#include <vector>

#include "normgrad/hooks.hpp"
#include "normgrad/tensor.hpp"

namespace normgrad::autograd {

using BackwardFn = std::function<void()>;

struct TapeRecord {
    const char* op;              // "linear", "batch_norm", ...
    std::string scope;           // the module that ran it ("fc1"), empty outside modules
    std::vector<Tensor> inputs;  // kept alive until the tape is released
    Tensor output;
    BackwardFn backward;
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

// Names the module whose operations are being recorded (so that observers can name the layer).
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

// Hooks (hooks.hpp): a forward hook sees each record right after its operation ran; an output
// gradient hook sees each record right before its backward function runs, when the gradient of
// its output is complete (every operation that read the output has added its part); a backward
// hook sees each record right after its backward function ran, when its inputs' gradients have
// received this record's part. (By then the output's gradient may hold an input's: see
// output_grad_reusable. Read it in an output gradient hook.) All are chained and removed when
// their handle goes.
using RecordHook = std::function<void(const TapeRecord&)>;
[[nodiscard]] HookHandle add_forward_hook(RecordHook hook);
[[nodiscard]] HookHandle add_output_grad_hook(RecordHook hook);
[[nodiscard]] HookHandle add_backward_hook(RecordHook hook);

// May the backward function running now write an input's gradient over the gradient of `out`?
// True when `out` is the output of the record whose backward is running and its gradient is
// freed right after (not retained: nothing reads it after this step). An elementwise backward
// (dx[i] from dy[i] and other values at i alone) then lets the input take over the buffer and
// writes dx over dy (src/ops/output_grad.hpp): no fresh buffer, and no cache misses for writing
// one.
bool output_grad_reusable(const Tensor& out);

}  // namespace normgrad::autograd
