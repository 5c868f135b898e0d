#include "normgrad/autograd.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

namespace normgrad::autograd {

namespace {

struct Tape {
    std::vector<TapeRecord> records;
    uint64_t generation = 1;  // bumped on every release, so stale losses are recognised
};

thread_local Tape tape;
thread_local bool grad_mode = true;
thread_local std::string scope;
thread_local HookList<const TapeRecord&> forward_hooks;
thread_local HookList<const TapeRecord&> output_grad_hooks;
thread_local HookList<const TapeRecord&> backward_hooks;
// The output whose gradient the running backward function may overwrite (output_grad_reusable).
thread_local const TensorImpl* reusable_output = nullptr;

// Sets reusable_output for one backward function, and clears it however that function ends.
class ReusableOutput {
  public:
    explicit ReusableOutput(const TensorImpl* out) { reusable_output = out; }
    ~ReusableOutput() { reusable_output = nullptr; }
    ReusableOutput(const ReusableOutput&) = delete;
    ReusableOutput& operator=(const ReusableOutput&) = delete;
};

}  // namespace

bool grad_enabled() {
    return grad_mode;
}

NoGradGuard::NoGradGuard() : previous_(grad_mode) {
    grad_mode = false;
}
NoGradGuard::~NoGradGuard() {
    grad_mode = previous_;
}

ScopeGuard::ScopeGuard(std::string name) : previous_(std::move(scope)) {
    scope = std::move(name);
}
ScopeGuard::~ScopeGuard() {
    scope = std::move(previous_);
}
const std::string& current_scope() {
    return scope;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
    if (!grad_mode) return false;
    for (const Tensor* t : inputs)
        if (t && t->requires_grad()) return true;
    return false;
}

void record(const char* op, std::vector<Tensor> inputs, const Tensor& output, BackwardFn fn) {
    TensorImpl& out = output.impl();
    out.requires_grad = true;
    out.is_leaf = false;
    out.tape_generation = tape.generation;
    out.tape_index = tape.records.size();
    tape.records.push_back(TapeRecord{op, scope, std::move(inputs), output, std::move(fn)});
    forward_hooks(tape.records.back());
}

void backward(const Tensor& loss) {
    if (!loss.defined()) throw std::logic_error("backward: the loss tensor is undefined");
    if (loss.numel() != 1)
        throw std::logic_error(fmt::format(
            "backward: the loss must hold one value, its shape is {}", loss.shape().str()));
    const TensorImpl& l = loss.impl();
    if (!l.requires_grad)
        throw std::logic_error(
            "backward: the loss does not require grad (no parameter needing a gradient was used, "
            "or it was computed under NoGradGuard)");
    if (l.is_leaf) {  // a leaf loss: d(loss)/d(loss) = 1 and nothing else to do
        loss.mutable_grad()[0] += 1.f;
        return;
    }
    if (l.tape_generation != tape.generation || l.tape_index >= tape.records.size())
        throw std::logic_error(
            "backward: the tape that recorded this loss was already released by an earlier "
            "backward(); run a new forward pass before calling backward() again");

    loss.mutable_grad()[0] += 1.f;  // seed: d(loss)/d(loss) = 1
    for (size_t i = l.tape_index + 1; i-- > 0;) {
        TapeRecord& r = tape.records[i];
        // No gradient reached this operation's output: it does not influence the loss.
        if (!r.output.has_grad()) continue;
        output_grad_hooks(r);
        const bool retained = r.output.impl().retain_grad;
        {
            const ReusableOutput reusable(retained ? nullptr : &r.output.impl());
            r.backward();
        }
        backward_hooks(r);
        if (!retained) r.output.release_grad();
    }
    release_tape();
}

void release_tape() {
    tape.records.clear();
    ++tape.generation;
}

size_t tape_size() {
    return tape.records.size();
}

HookHandle add_forward_hook(RecordHook hook) {
    return forward_hooks.add(std::move(hook));
}

HookHandle add_output_grad_hook(RecordHook hook) {
    return output_grad_hooks.add(std::move(hook));
}

HookHandle add_backward_hook(RecordHook hook) {
    return backward_hooks.add(std::move(hook));
}

bool output_grad_reusable(const Tensor& out) {
    const TensorImpl& impl = out.impl();
    return reusable_output == &impl && impl.grad != nullptr;
}

}  // namespace normgrad::autograd
